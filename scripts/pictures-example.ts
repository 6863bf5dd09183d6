/**
 * `node --import tsx scripts/pictures-example.ts`: trains YOLOv5n on the synthetic shape set
 * (3 classes, 96 px, a few minutes on two cores with the native kernels), then validates the
 * best checkpoint (flotilla val's pictures, not copied), and copies the run's pictures into docs/pictures/ as small PNGs (long side
 * at most 800 px, batch mosaics 480 px) for docs/pictures.md. Prints how long the pictures took to draw per epoch.
 */
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { initBackend } from '../worker/engine/backend.ts';
import { trainSession, valSession, type SessionEvent } from '../worker/engine/train/index.ts';

const OUT = join(import.meta.dirname, '..', 'docs', 'pictures');
const EPOCHS = Number(process.env.EPOCHS ?? 40);
const backend = await initBackend();
console.log(`backend: ${backend.backend}`);
const project = join(tmpdir(), 'flotilla-pictures-example');
rmSync(project, { recursive: true, force: true });
let drawMs = 0;
const t0 = performance.now();
const r = await trainSession({
  data: 'synthetic',
  cfg: 'yolov5n',
  img: 96,
  epochs: EPOCHS,
  batch: 8,
  nbs: 8,
  seed: 0,
  synthTrain: 96,
  synthVal: 24,
  project,
  name: 'exp',
  patience: 0,
  synthOptions: { objects: [1, 3], sizes: [0.25, 0.5], backgroundFraction: 0.05 },
  hypOverrides: { warmup_epochs: 0, lr0: 0.05, obj: 20, box: 0.2, hsv_h: 0, scale: 0.2 },
  onEvent: (e: SessionEvent) => {
    if (e.type === 'plots') drawMs += e.ms;
    if (e.type === 'epoch')
      console.log(`epoch ${e.epoch}: mAP50 ${e.metrics?.map50.toFixed(3)} (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
  },
});
console.log(
  `trained ${r.epochsRun} epochs in ${((performance.now() - t0) / 1000).toFixed(0)} s; drawing the pictures took ${(drawMs / 1000).toFixed(1)} s (${(drawMs / r.epochsRun).toFixed(0)} ms per epoch)`,
);
const v = await valSession({ weights: r.bestPath, saveDir: join(r.saveDir, 'val') });
console.log(`val of best.ckpt: mAP50 ${v.metrics.map50.toFixed(3)}, ${v.pictures.length} pictures`);
mkdirSync(OUT, { recursive: true });
for (const f of readdirSync(OUT)) rmSync(join(OUT, f));
for (const dir of [r.saveDir]) {
  // batch mosaics: the first of each (they are the large ones)
  for (const f of readdirSync(dir).filter((n) => /\.(png|jpg)$/.test(n) && !/batch[12]/.test(n))) {
    const name = `${f.replace(/\.(png|jpg)$/, '')}.png`;
    const side = /batch/.test(f) ? 480 : 800; // photos compress poorly as PNG
    await sharp(join(dir, f))
      .resize(side, side, { fit: 'inside', withoutEnlargement: true })
      .png({ palette: true, quality: 90, compressionLevel: 9 })
      .toFile(join(OUT, name));
  }
}
console.log(`pictures in ${OUT}`);
