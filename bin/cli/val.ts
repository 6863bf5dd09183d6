/** `flotilla val --weights runs/train/exp/weights/best.ckpt [--data DATA.yaml] [--img PX]`: P, R, mAP@0.5, mAP@0.5:0.95. */
import { parseFlags, usageError } from './flags.ts';

const USAGE = `usage: flotilla val --weights FILE [options]

  --weights FILE     a checkpoint written by 'flotilla train' (its EMA weights are evaluated),
                     or a YOLOv5 .pt (Ultralytics checkpoint or state dict)
  --data FILE        dataset yaml (default: the one the checkpoint was trained on; required for a .pt)
  --cfg FILE         model yaml for a bare state-dict .pt (default: the architecture the file holds)
  --img PX           image size (default: the training size, 640 for a .pt)
  --batch N          batch size (default 32)
  --conf-thres X     NMS confidence threshold (default 0.001)
  --iou-thres X      NMS IoU threshold (default 0.6)
  --task val|train   which split (default val)
  --project DIR      where the pictures go (default runs/val)
  --name NAME        (default exp; numbered exp2, exp3 … unless --exist-ok)
  --exist-ok         reuse runs/val/NAME
  --noplots          draw no pictures (confusion matrix, PR/F1/P/R curves, val_batchN)
  --json             print only the result as JSON (images, labels, P, R, mAP@0.5, mAP@0.5:0.95, seconds)`;

export async function run(argv: string[]): Promise<number> {
  const parsed = parseFlags(
    argv,
    {
      weights: { type: 'string' },
      data: { type: 'string' },
      cfg: { type: 'string' },
      img: { type: 'string' },
      batch: { type: 'string' },
      'conf-thres': { type: 'string' },
      'iou-thres': { type: 'string' },
      task: { type: 'string' },
      json: { type: 'boolean' },
      project: { type: 'string' },
      name: { type: 'string' },
      'exist-ok': { type: 'boolean' },
      noplots: { type: 'boolean' },
    },
    USAGE,
  );
  if ('exit' in parsed) return parsed.exit;
  const { values } = parsed;
  const s = (k: string) => values[k] as string | undefined;
  const weights = s('weights');
  if (!weights) return usageError('--weights is required', USAGE);
  const task = s('task') ?? 'val';
  if (task !== 'val' && task !== 'train') return usageError('--task must be val or train', USAGE);
  const n = (k: string) => {
    const v = s(k);
    if (v === undefined) return undefined;
    const x = Number(v);
    if (!Number.isFinite(x) || x < 0) throw new Error(`--${k} must be a non-negative number (got '${v}')`);
    return x;
  };
  let opts;
  try {
    opts = {
      weights,
      data: s('data'),
      cfg: s('cfg'),
      img: n('img'),
      batch: n('batch'),
      confThres: n('conf-thres'),
      iouThres: n('iou-thres'),
      split: task as 'val' | 'train',
    };
  } catch (e) {
    return usageError((e as Error).message, USAGE);
  }
  const { initBackend } = await import('../../worker/engine/backend.ts');
  const backend = await initBackend();
  if (!values.json) console.log(`backend: ${backend.backend} (${backend.device})`);
  const { valSession, formatG, nextRunDir } = await import('../../worker/engine/train/index.ts');
  const { scanReport } = await import('../../worker/engine/data/index.ts');
  const t0 = performance.now();
  const saveDir = values.noplots ? undefined : nextRunDir(s('project') ?? 'runs/val', s('name') ?? 'exp', Boolean(values['exist-ok']));
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
