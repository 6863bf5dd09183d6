/**
 * `flotilla detect --weights W --source IMG|DIR|GLOB`: detect.py for images. Annotated images
 * (and with --save-txt YOLO-format labels) go to runs/detect/expN.
 */
import { z } from 'zod';
import { defineCommand, flag, intList, parse } from './parse.ts';

export const spec = defineCommand({
  name: 'detect',
  synopsis: '--weights FILE --source IMG|DIR|GLOB [options]',
  flags: z.object({
    weights: z
      .string()
      .min(1)
      .meta({ arg: 'FILE', description: 'a YOLOv5 .pt (Ultralytics checkpoint or state dict) or a flotilla checkpoint' }),
    source: z.string().min(1).meta({ arg: 'S', description: "an image, a folder of images, or a glob such as 'data/*.jpg' (quote it)" }),
    cfg: flag.str('FILE', 'model yaml for a bare state-dict .pt (default: the architecture the file holds)'),
    img: flag.int('PX', 'inference size, long side (default 640; rounded up to a multiple of the stride)', 32, 8192),
    'conf-thres': flag.num('X', 'confidence threshold (default 0.25)', 0, 1),
    'iou-thres': flag.num('X', 'NMS IoU threshold (default 0.45)', 0, 1),
    'max-det': flag.int('N', 'detections per image (default 1000)', 1, 100000),
    classes: intList('N[,M..]', 'keep only these classes', 0),
    'save-txt': flag.bool('write labels/<stem>.txt: class xc yc w h, normalised (YOLO format)'),
    'save-conf': flag.bool('add the confidence to each --save-txt line'),
    nosave: flag.bool('do not write annotated images'),
    project: flag.str('DIR', '(default runs/detect)'),
    name: flag.str('NAME', '(default exp; numbered exp2, exp3 … unless --exist-ok)'),
    'exist-ok': flag.bool('reuse runs/detect/NAME'),
    json: flag.bool('print only the result as JSON (save dir, per image: file, size, detections)'),
  }),
});

export async function run(argv: string[]): Promise<number> {
  const p = parse(spec, argv);
  if (!p.ok) return p.exit;
  const values = p.flags;
  const opts = {
    weights: values.weights,
    source: values.source,
    cfg: values.cfg,
    img: values.img,
    confThres: values['conf-thres'],
    iouThres: values['iou-thres'],
    maxDet: values['max-det'],
    ...(values.classes ? { classes: values.classes } : {}),
    saveTxt: Boolean(values['save-txt']),
    saveConf: Boolean(values['save-conf']),
    nosave: Boolean(values.nosave),
    project: values.project,
    name: values.name,
    existOk: Boolean(values['exist-ok']),
  };
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
