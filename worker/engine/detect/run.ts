/**
 * `flotilla detect`: detect.py for images. Each source image gets its detections drawn into
 * runs/detect/expN/<name> and, with saveTxt, one `cls xc yc w h [conf]` line per detection
 * (normalised to the image, %g) in runs/detect/expN/labels/<stem>.txt.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { decodeImage } from '../data/index.ts';
import type { YoloModel } from '../model/index.ts';
import { formatG, nextRunDir } from '../train/index.ts';
import { modelFromPretrained, readPretrained } from '../weights/index.ts';
import { drawDetections } from './draw.ts';
import { predict, type Detection, type PredictOptions } from './predict.ts';
import { imageFiles } from './sources.ts';

/** Options of {@link detectRun}; defaults as detect.py's flags. */
export interface DetectOptions extends PredictOptions {
  /** a YOLOv5 .pt or a flotilla checkpoint */
  readonly weights: string;
  /** an image, a folder of images or a glob */
  readonly source: string;
  /** model yaml for a bare state-dict .pt */
  readonly cfg?: string;
  /** write labels/<stem>.txt (default false) */
  readonly saveTxt?: boolean;
  /** add the confidence to each txt line (default false) */
  readonly saveConf?: boolean;
  /** do not write annotated images (default false) */
  readonly nosave?: boolean;
  /** default 'runs/detect' and 'exp' (numbered exp2, exp3 … unless existOk) */
  readonly project?: string;
  readonly name?: string;
  readonly existOk?: boolean;
  /** called after each image */
  readonly onImage?: (r: ImageResult, index: number, total: number) => void;
}

/** One source image's result. */
export interface ImageResult {
  file: string;
  width: number;
  height: number;
  /** the letterboxed input, [h, w] */
  inputShape: [number, number];
  detections: (Detection & { name: string })[];
  ms: number;
  /** the annotated image and label file written, when written */
  saved?: string;
  labels?: string;
}

/** "2 circles, 1 square" as detect.py prints it (counts by class, in class order). */
export function summarize(dets: readonly { cls: number; name: string }[]): string {
  const counts = new Map<number, { n: number; name: string }>();
  for (const d of dets) counts.set(d.cls, { n: (counts.get(d.cls)?.n ?? 0) + 1, name: d.name });
  return (
    [...counts]
      .sort((a, b) => a[0] - b[0])
      .map(([, c]) => `${c.n} ${c.name}${c.n > 1 ? 's' : ''}`)
      .join(', ') || '(no detections)'
  );
}

/** One txt line: class, then xc yc w h normalised by the image size, then conf with `saveConf`. */
export function labelLine(d: Detection, width: number, height: number, saveConf: boolean): string {
  const v = [
    d.cls,
    (d.x1 + d.x2) / 2 / width,
    (d.y1 + d.y2) / 2 / height,
    (d.x2 - d.x1) / width,
    (d.y2 - d.y1) / height,
    ...(saveConf ? [d.conf] : []),
  ];
  return v.map((x) => formatG(x, 6)).join(' ');
}

/** The class names of a model: the file's, else class0, class1 … */
export function classNames(model: YoloModel, names?: readonly string[]): string[] {
  return Array.from({ length: model.nc }, (_, i) => names?.[i] ?? `class${i}`);
}

/** Runs detection over `o.source`; returns where it wrote and every image's detections. */
export async function detectRun(o: DetectOptions): Promise<{ saveDir: string; images: ImageResult[]; labelsSaved: number }> {
  const files = imageFiles(o.source);
  const w = readPretrained(o.weights);
  const model = modelFromPretrained(w, o.cfg);
  try {
    const names = classNames(model, w.names);
    const saveDir = nextRunDir(o.project ?? 'runs/detect', o.name ?? 'exp', o.existOk);
    mkdirSync(o.saveTxt ? join(saveDir, 'labels') : saveDir, { recursive: true });
    const images: ImageResult[] = [];
    let labelsSaved = 0;
    for (const [k, file] of files.entries()) {
      const im = await decodeImage(file);
      const t0 = performance.now();
      const { detections, inputShape } = predict(model, im, o);
      const ms = performance.now() - t0;
      const dets = detections.map((d) => ({ ...d, name: names[d.cls] ?? `class${d.cls}` }));
      const r: ImageResult = { file, width: im.width, height: im.height, inputShape, detections: dets, ms };
      const stem = basename(file, extname(file));
      if (o.saveTxt && dets.length) {
        r.labels = join(saveDir, 'labels', `${stem}.txt`);
        writeFileSync(r.labels, dets.map((d) => `${labelLine(d, im.width, im.height, o.saveConf ?? false)}\n`).join(''));
        labelsSaved++;
      }
      if (!o.nosave) {
        const ext = extname(file).toLowerCase();
        const jpg = ext === '.jpg' || ext === '.jpeg';
        r.saved = join(saveDir, jpg || ext === '.png' ? basename(file) : `${stem}.png`);
        writeFileSync(
          r.saved,
          await drawDetections(
            im,
            dets.map((d) => ({ ...d, label: `${d.name} ${d.conf.toFixed(2)}` })),
            jpg ? 'jpg' : 'png',
          ),
        );
      }
      images.push(r);
      o.onImage?.(r, k, files.length);
    }
    return { saveDir, images, labelsSaved };
  } finally {
    model.dispose();
  }
}
