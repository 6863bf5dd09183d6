/**
 * `flotilla detect --weights W --source IMG|DIR|GLOB`: detect.py for images. Annotated images
 * (and with --save-txt YOLO-format labels) go to runs/detect/expN.
 */
import { flagNumber, parseFlags, usageError } from './flags.ts';

const USAGE = `usage: flotilla detect --weights FILE --source IMG|DIR|GLOB [options]

  --weights FILE     a YOLOv5 .pt (Ultralytics checkpoint or state dict) or a flotilla checkpoint
  --source S         an image, a folder of images, or a glob such as 'data/*.jpg' (quote it)
  --cfg FILE         model yaml for a bare state-dict .pt (default: the architecture the file holds)
  --img PX           inference size, long side (default 640; rounded up to a multiple of the stride)
  --conf-thres X     confidence threshold (default 0.25)
  --iou-thres X      NMS IoU threshold (default 0.45)
  --max-det N        detections per image (default 1000)
  --classes N[,M..]  keep only these classes
  --save-txt         write labels/<stem>.txt: class xc yc w h, normalised (YOLO format)
  --save-conf        add the confidence to each --save-txt line
  --nosave           do not write annotated images
  --project DIR      (default runs/detect)
  --name NAME        (default exp; numbered exp2, exp3 … unless --exist-ok)
  --exist-ok         reuse runs/detect/NAME
  --json             print only the result as JSON (save dir, per image: file, size, detections)`;

export async function run(argv: string[]): Promise<number> {
  const parsed = parseFlags(
    argv,
    {
      weights: { type: 'string' },
      source: { type: 'string' },
      cfg: { type: 'string' },
      img: { type: 'string' },
      'conf-thres': { type: 'string' },
      'iou-thres': { type: 'string' },
      'max-det': { type: 'string' },
      classes: { type: 'string' },
      'save-txt': { type: 'boolean' },
      'save-conf': { type: 'boolean' },
      nosave: { type: 'boolean' },
      project: { type: 'string' },
      name: { type: 'string' },
      'exist-ok': { type: 'boolean' },
      json: { type: 'boolean' },
    },
    USAGE,
  );
  if ('exit' in parsed) return parsed.exit;
  const { values } = parsed;
  const s = (k: string) => values[k] as string | undefined;
  const weights = s('weights'),
    source = s('source');
  if (!weights || !source) return usageError('--weights and --source are required', USAGE);
  const num = (k: string, min: number, max: number, integer = false) => flagNumber(k, s(k), min, { max, integer });
  let opts;
  try {
    const classes = s('classes')
      ?.split(',')
      .map((c) => {
        const n = Number(c);
        if (!Number.isInteger(n) || n < 0) throw new Error(`--classes takes class ids such as 0,2 (got '${c}')`);
        return n;
      });
    opts = {
      weights,
      source,
      cfg: s('cfg'),
      img: num('img', 32, 8192, true),
      confThres: num('conf-thres', 0, 1),
      iouThres: num('iou-thres', 0, 1),
      maxDet: num('max-det', 1, 100000, true),
      ...(classes ? { classes } : {}),
      saveTxt: Boolean(values['save-txt']),
      saveConf: Boolean(values['save-conf']),
      nosave: Boolean(values.nosave),
      project: s('project'),
      name: s('name'),
      existOk: Boolean(values['exist-ok']),
    };
  } catch (e) {
    return usageError((e as Error).message, USAGE);
  }
  const { initBackend } = await import('../../worker/engine/backend.ts');
  const backend = await initBackend();
  if (!values.json) console.log(`backend: ${backend.backend} (${backend.device})`);
  const { detectRun, summarize } = await import('../../worker/engine/detect/index.ts');
  const r = await detectRun({
    ...opts,
    onImage: (im, k, n) => {
      if (!values.json)
        console.log(
          `image ${k + 1}/${n} ${im.file}: ${im.inputShape[0]}x${im.inputShape[1]} ${summarize(im.detections)}, ${im.ms.toFixed(1)}ms`,
        );
    },
  });
  if (values.json) {
    console.log(
      JSON.stringify({
        saveDir: r.saveDir,
        labelsSaved: r.labelsSaved,
        images: r.images.map((i) => ({
          file: i.file,
          width: i.width,
          height: i.height,
          saved: i.saved ?? null,
          labels: i.labels ?? null,
          detections: i.detections.map((d) => ({
            cls: d.cls,
            name: d.name,
            conf: Number(d.conf.toFixed(4)),
            box: [d.x1, d.y1, d.x2, d.y2].map((v) => Number(v.toFixed(1))),
          })),
        })),
      }),
    );
    return 0;
  }
  const ms = r.images.reduce((a, i) => a + i.ms, 0) / Math.max(1, r.images.length);
  console.log(`Speed: ${ms.toFixed(1)}ms letterbox + inference + NMS per image`);
  console.log(`Results saved to ${r.saveDir}${opts.saveTxt ? `\n${r.labelsSaved} labels saved to ${r.saveDir}/labels` : ''}`);
  return 0;
}
