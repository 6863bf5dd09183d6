/**
 * Ultralytics `parse_model` for TF.js: turns a {@link ModelYaml} into the layer graph, computes
 * the strides from the feature-map sizes, converts the anchors to grid units (flipping their
 * order when it disagrees with the strides, as `check_anchor_order` does) and builds Detect.
 */
import { Detect } from './detect.ts';
import { SeededRandom } from './init.ts';
import type { Block, Shape3 } from './module.ts';
import { ModelConfigError, scaleDepth, type ModelYaml } from './model-yaml.ts';
import { buildBlock, resolveArgs } from './registry.ts';

/** One row of the built graph. */
export interface Layer {
  readonly index: number;
  /** absolute indices of the inputs (−1 resolved); index −1 means the image */
  readonly from: number[];
  /** the `from` field as written in the yaml */
  readonly fromRaw: number | number[];
  /** repeats after the depth gain */
  readonly n: number;
  readonly type: string;
  /** args as written in the yaml */
  readonly args: unknown[];
  /** the PyTorch class and constructor arguments, as Ultralytics' layer table prints them */
  readonly qualname: string;
  readonly shownArgs: unknown[];
  readonly block: Block | null;
  readonly outChannels: number;
}

export interface BuiltGraph {
  readonly layers: Layer[];
  readonly detect: Detect;
  readonly strides: number[];
}

/** Image size used to measure strides, as Ultralytics does (256 px). */
const STRIDE_PROBE = 256;

export function buildGraph(yaml: ModelYaml, seed: number): BuiltGraph {
  const rng = new SeededRandom(seed);
  if (yaml.activation !== undefined && !/^nn\.SiLU\(\)$/.test(yaml.activation)) {
    throw new ModelConfigError(`activation '${yaml.activation}' is not supported (only nn.SiLU())`);
  }
  const na = Array.isArray(yaml.anchors) ? Math.floor(yaml.anchors[0].length / 2) : yaml.anchors;
  const no = na * (yaml.nc + 5);
  const rows = [...yaml.backbone, ...yaml.head];
  const channels: number[] = [];
  const layers: Layer[] = [];
  let detectRow: { index: number; from: number[]; fromRaw: number | number[]; args: unknown[] } | null = null;

  rows.forEach(([f, nRaw, module, args], i) => {
    const fromRaw = f;
    const from = (Array.isArray(f) ? f : [f]).map((x) => (x < 0 ? i + x : x));
    for (const x of from) {
      if (x >= i || (x < 0 && i > 0) || x < -1)
        throw new ModelConfigError(`layer ${i} (${module}): 'from' ${JSON.stringify(f)} must point to an earlier layer`);
    }
    const inChannels = from.map((x) => (x === -1 ? 3 : channels[x]));
    const n = scaleDepth(nRaw, yaml.depth_multiple);
    if (module === 'Detect') {
      if (i !== rows.length - 1) throw new ModelConfigError(`layer ${i}: Detect must be the last layer`);
      detectRow = { index: i, from, fromRaw, args };
      return;
    }
    const { block, qualname, shownArgs } = buildBlock(module, args, i, { yaml, inChannels, n, no, rng });
    channels.push(block.outChannels);
    layers.push({ index: i, from, fromRaw, n, type: module, args, qualname, shownArgs, block, outChannels: block.outChannels });
  });
  if (!detectRow) throw new ModelConfigError('the model has no Detect layer (it must be the last row)');
  const d: { index: number; from: number[]; fromRaw: number | number[]; args: unknown[] } = detectRow;

  // feature-map sizes at the probe size give the strides
  const shapes = probeShapes(layers, STRIDE_PROBE);
  const strides = d.from.map((x) => STRIDE_PROBE / shapes[x][0]);
  const [nc, anchorsArg] = resolveArgs(d.args, yaml);
  if (nc !== yaml.nc) throw new ModelConfigError(`Detect: nc argument ${String(nc)} differs from the model nc ${yaml.nc}`);
  const anchorsPx = anchorPixels(anchorsArg, d.from.length);
  const anchorsGrid = orderAnchors(anchorsPx, strides).map((l, i) => l.map(([w, h]) => [w / strides[i], h / strides[i]]));
  const detect = new Detect(
    yaml.nc,
    anchorsGrid,
    d.from.map((x) => channels[x]),
    strides,
    rng,
  );
  const shownArgs = [yaml.nc, anchorsArg, d.from.map((x) => channels[x])];
  layers.push({
    index: d.index,
    from: d.from,
    fromRaw: d.fromRaw,
    n: 1,
    type: 'Detect',
    args: d.args,
    qualname: 'models.yolo.Detect',
    shownArgs,
    block: null,
    outChannels: detect.no * detect.na,
  });
  return { layers, detect, strides };
}

/** Output shape of every block for a square image of `size` pixels. */
export function probeShapes(layers: Layer[], size: number): Shape3[] {
  const shapes: Shape3[] = [];
  for (const l of layers) {
    if (!l.block) break;
    const ins = l.from.map((x) => (x === -1 ? ([size, size, 3] as Shape3) : shapes[x]));
    shapes.push(l.block.profile(ins).out);
  }
  return shapes;
}

/** Anchors as `[nl][na][w,h]` pixels; an integer gives placeholders (to be replaced by autoanchor). */
function anchorPixels(arg: unknown, nl: number): number[][][] {
  if (typeof arg === 'number' && Number.isInteger(arg) && arg > 0) {
    return Array.from({ length: nl }, () => Array.from({ length: arg }, (_, a) => [2 * a, 2 * a + 1]));
  }
  if (!Array.isArray(arg) || arg.length !== nl)
    throw new ModelConfigError(`Detect: anchors must be ${nl} lists (one per input) or a count`);
  const levels = arg.map((l) => {
    if (!Array.isArray(l) || l.length % 2 !== 0 || l.some((v) => typeof v !== 'number'))
      throw new ModelConfigError('Detect: each anchor level must be [w0, h0, w1, h1, …]');
    return Array.from({ length: l.length / 2 }, (_, a) => [l[2 * a] as number, l[2 * a + 1] as number]);
  });
  if (new Set(levels.map((l) => l.length)).size !== 1) throw new ModelConfigError('Detect: every level needs the same number of anchors');
  return levels;
}

/** `check_anchor_order`: anchor areas must grow with the strides; otherwise the levels are reversed. */
function orderAnchors(px: number[][][], strides: number[]): number[][][] {
  const area = px.map((l) => l.reduce((s, [w, h]) => s + w * h, 0) / l.length);
  const da = area[area.length - 1] - area[0];
  const ds = strides[strides.length - 1] - strides[0];
  return da !== 0 && Math.sign(da) !== Math.sign(ds) ? [...px].reverse() : px;
}
