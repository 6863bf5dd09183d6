/** `flotilla val --weights runs/train/exp/weights/best.ckpt [--data DATA.yaml] [--img PX]`: P, R, mAP@0.5, mAP@0.5:0.95. */
import { z } from 'zod';
import { defineCommand, flag, parse } from './parse.ts';

export const spec = defineCommand({
  name: 'val',
  synopsis: '--weights FILE [options]',
  flags: z.object({
    weights: z.string().min(1).meta({
      arg: 'FILE',
      description:
        "a checkpoint written by 'flotilla train' (its EMA weights are evaluated),\nor a YOLOv5 .pt (Ultralytics checkpoint or state dict)",
    }),
    data: flag.str('FILE', 'dataset yaml (default: the one the checkpoint was trained on; required for a .pt)'),
    cfg: flag.str('FILE', 'model yaml for a bare state-dict .pt (default: the architecture the file holds)'),
    img: flag.num('PX', 'image size (default: the training size, 640 for a .pt)', 0),
    batch: flag.num('N', 'batch size (default 32)', 0),
    'conf-thres': flag.num('X', 'NMS confidence threshold (default 0.001)', 0),
    'iou-thres': flag.num('X', 'NMS IoU threshold (default 0.6)', 0),
    task: flag.oneOf(['val', 'train'], 'val|train', 'which split (default val)'),
    project: flag.str('DIR', 'where the pictures go (default runs/val)'),
    name: flag.str('NAME', '(default exp; numbered exp2, exp3 … unless --exist-ok)'),
    'exist-ok': flag.bool('reuse runs/val/NAME'),
    noplots: flag.bool('draw no pictures (confusion matrix, PR/F1/P/R curves, val_batchN)'),
    json: flag.bool('print only the result as JSON (images, labels, P, R, mAP@0.5, mAP@0.5:0.95, seconds)'),
  }),
});

export async function run(argv: string[]): Promise<number> {
  const p = parse(spec, argv);
  if (!p.ok) return p.exit;
  const values = p.flags;
  const opts = {
    weights: values.weights,
    data: values.data,
    cfg: values.cfg,
    img: values.img,
    batch: values.batch,
    confThres: values['conf-thres'],
    iouThres: values['iou-thres'],
    split: values.task ?? 'val',
  };
  const { initBackend } = await import('../../worker/engine/backend.ts');
  const backend = await initBackend();
  if (!values.json) console.log(`backend: ${backend.backend} (${backend.device})`);
  const { valSession, formatG, nextRunDir } = await import('../../worker/engine/train/index.ts');
  const { scanReport } = await import('../../worker/engine/data/index.ts');
  const t0 = performance.now();
  const saveDir = values.noplots ? undefined : nextRunDir(values.project ?? 'runs/val', values.name ?? 'exp', Boolean(values['exist-ok']));
  const { metrics: m, dataset, model, pictures } = await valSession({ ...opts, ...(saveDir ? { saveDir } : {}) });
  if (values.json) {
    console.log(
      JSON.stringify({
        backend: backend.backend,
        cfg: model.cfg,
        split: dataset.split,
        data: dataset.yamlPath,
        images: m.images,
        labels: m.labels,
        precision: m.mp,
        recall: m.mr,
        map50: m.map50,
        map: m.map,
        ...(saveDir ? { saveDir, pictures } : {}),
        seconds: Number(((performance.now() - t0) / 1000).toFixed(1)),
      }),
    );
    return 0;
  }
  console.log(`${model.cfg}, ${model.nc} classes; ${dataset.split} split of ${dataset.yamlPath}`);
  for (const line of scanReport(dataset)) console.log(line);
  console.log(
    `${'Class'.padStart(22)}${'Images'.padStart(11)}${'Instances'.padStart(11)}${'P'.padStart(11)}${'R'.padStart(11)}${'mAP50'.padStart(11)}${'mAP50-95'.padStart(11)}`,
  );
  console.log(
    `${'all'.padStart(22)}${String(m.images).padStart(11)}${String(m.labels).padStart(11)}${[m.mp, m.mr, m.map50, m.map].map((v) => formatG(v, 4).padStart(11)).join('')}`,
  );
  if (saveDir)
    console.log(`pictures saved to ${saveDir} (${pictures.length}: ${pictures.map((p) => p.slice(saveDir.length + 1)).join(', ')})`);
  console.log(`done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return 0;
}
