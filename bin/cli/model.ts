/**
 * `flotilla model --cfg yolov5s.yaml [--nc 80] [--img 640] [--verbose]`: builds the model and
 * prints Ultralytics' summary line (`YOLOv5s summary: 214 layers, 7235389 parameters, …`).
 */
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import { buildModel, formatLayerRow, formatSummary, LAYER_TABLE_HEADER } from '../../worker/engine/model/index.ts';

const USAGE = `usage: flotilla model --cfg FILE [--nc N] [--img PX] [--verbose]

  --cfg FILE    architecture yaml: a path or a built-in name (yolov5n/s/m/l/x[.yaml])
  --nc N        number of classes (default: the yaml's nc)
  --img PX      image size for the GFLOPs figure (default 640)
  --verbose     also print the per-layer table (from, n, params, module, arguments)`;

function int(name: string, v: string | undefined, min: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min} (got '${v}')`);
  return n;
}

/** `yolov5s.yaml` → `YOLOv5s`, as Ultralytics names the summary. */
export function summaryName(cfg: string): string {
  return basename(cfg)
    .replace(/\.ya?ml$/, '')
    .replace('yolov5', 'YOLOv5');
}

export async function run(argv: string[]): Promise<number> {
  let values: { cfg?: string; nc?: string; img?: string; verbose?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        cfg: { type: 'string' },
        nc: { type: 'string' },
        img: { type: 'string' },
        verbose: { type: 'boolean', short: 'v' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (e) {
    console.error(`${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (!values.cfg) {
    console.error(`--cfg is required\n\n${USAGE}`);
    return 2;
  }
  let nc: number | undefined;
  let img: number;
  try {
    nc = int('nc', values.nc, 1);
    img = int('img', values.img, 32) ?? 640;
  } catch (e) {
    console.error(`${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const model = buildModel(values.cfg, { nc });
  try {
    if (values.verbose) {
      console.log(LAYER_TABLE_HEADER);
      for (const r of model.layerTable()) console.log(formatLayerRow(r));
    }
    console.log(formatSummary(summaryName(values.cfg), model.summary(img)));
  } finally {
    model.dispose();
  }
  return 0;
}
