/**
 * `flotilla model --cfg yolov5s.yaml [--nc 80] [--img 640] [--verbose]`: builds the model and
 * prints Ultralytics' summary line (`YOLOv5s summary: 214 layers, 7235389 parameters, …`).
 */
import { basename } from 'node:path';
import { z } from 'zod';
import { buildModel, formatLayerRow, formatSummary, LAYER_TABLE_HEADER } from '../../worker/engine/model/index.ts';
import { defineCommand, flag, parse } from './parse.ts';

export const spec = defineCommand({
  name: 'model',
  synopsis: '--cfg FILE [--nc N] [--img PX] [--verbose]',
  flags: z.object({
    cfg: z.string().min(1).meta({ arg: 'FILE', description: 'architecture yaml: a path or a built-in name (yolov5n/s/m/l/x[.yaml])' }),
    nc: flag.int('N', "number of classes (default: the yaml's nc)", 1),
    img: flag.int('PX', 'image size for the GFLOPs figure (default 640)', 32),
    verbose: flag.bool('also print the per-layer table (from, n, params, module, arguments)', 'v'),
  }),
});

/** `yolov5s.yaml` → `YOLOv5s`, as Ultralytics names the summary. */
export function summaryName(cfg: string): string {
  return basename(cfg)
    .replace(/\.ya?ml$/, '')
    .replace('yolov5', 'YOLOv5');
}

export async function run(argv: string[]): Promise<number> {
  const p = parse(spec, argv);
  if (!p.ok) return p.exit;
  const values = p.flags;
  const nc = values.nc;
  const img = values.img ?? 640;
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
