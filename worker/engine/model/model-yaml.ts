/**
 * The model architecture as data: the Ultralytics YOLOv5 (v6.0+) yaml format
 * (`nc`, `depth_multiple`, `width_multiple`, `anchors`, `backbone` and `head` rows of
 * `[from, number, module, args]`). Parsed and validated here; never evaluated.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, sep } from 'node:path';
import { sourceDir } from '../../../shared/run-entry.ts';
import { parse } from 'yaml';
import { z } from 'zod';
import { EngineError } from '../errors.ts';

/** One architecture row: inputs (`-1` = previous layer), repeats, module name, module arguments. */
export const LayerRow = z.tuple([
  z.union([z.number().int(), z.array(z.number().int()).min(1)]),
  z.number().int().min(1),
  z.string().min(1),
  z.array(z.unknown()),
]);
export type LayerRow = z.infer<typeof LayerRow>;

/**
 * A model yaml. `anchors` is either per-level pixel pairs `[w0,h0, w1,h1, …]` or the number of
 * anchors per level (placeholders, to be replaced by autoanchor).
 */
export const ModelYaml = z
  .object({
    nc: z.number().int().min(1),
    depth_multiple: z.number().positive(),
    width_multiple: z.number().positive(),
    anchors: z.union([z.array(z.array(z.number()).min(2)).min(1), z.number().int().min(1)]),
    backbone: z.array(LayerRow).min(1),
    head: z.array(LayerRow).min(1),
    /** optional activation override, as in Ultralytics; only SiLU is supported */
    activation: z.string().optional(),
  })
  .passthrough();
export type ModelYaml = z.infer<typeof ModelYaml>;

/** Built-in configurations shipped in `cfg/`. */
export const BUILTIN_CFGS = ['yolov5n', 'yolov5s', 'yolov5m', 'yolov5l', 'yolov5x'] as const;

/** Directory holding the built-in yaml files. */
export const CFG_DIR = join(sourceDir(import.meta.url), 'cfg') + sep;

/** Thrown for an unreadable or invalid model configuration. */
export class ModelConfigError extends EngineError {
  override name = 'ModelConfigError';
  readonly retryable = false;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/**
 * Resolves `cfg` to a validated {@link ModelYaml}: an object, a path to a yaml file, or a
 * built-in name (`yolov5s`, `yolov5s.yaml`).
 */
export function loadModelYaml(cfg: string | ModelYaml): ModelYaml {
  let raw: unknown = cfg;
  let source = 'object';
  if (typeof cfg === 'string') {
    source = resolveCfgPath(cfg);
    try {
      raw = parse(readFileSync(source, 'utf8'));
    } catch (e) {
      throw new ModelConfigError(`cannot read model yaml ${source}: ${(e as Error).message}`, { cause: e });
    }
  }
  const r = ModelYaml.safeParse(raw);
  if (!r.success) {
    const issues = r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new ModelConfigError(`invalid model yaml (${source}): ${issues}`);
  }
  // deep copy so later mutation (nc override) never touches the caller's object
  return structuredClone(r.data);
}

function resolveCfgPath(cfg: string): string {
  if (existsSync(cfg)) return cfg;
  const base = cfg.replace(/\.ya?ml$/, '').replace(/^.*\//, '');
  const builtin = `${CFG_DIR}${base}.yaml`;
  if (existsSync(builtin)) return builtin;
  throw new ModelConfigError(`model yaml not found: '${cfg}' (built-in: ${BUILTIN_CFGS.join(', ')})`);
}

/** Python 3 `round()` for the repeat gain: halves go to the even neighbour. */
export function pyRound(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/** Ultralytics `make_divisible`: the smallest multiple of `divisor` not below `x`. */
export function makeDivisible(x: number, divisor = 8): number {
  return Math.ceil(x / divisor) * divisor;
}

/** Repeats after the depth gain: `max(round(n·gd), 1)` when `n > 1`, otherwise `n`. */
export function scaleDepth(n: number, depthMultiple: number): number {
  return n > 1 ? Math.max(pyRound(n * depthMultiple), 1) : n;
}
