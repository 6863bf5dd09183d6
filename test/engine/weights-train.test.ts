// --weights in training and validation: a PyTorch-written .pt starts a run (Transferred X/Y,
// the file's architecture as the run's cfg, recorded in the checkpoint) and is validated as is.
import t from 'tap';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initBackend } from '../../worker/engine/backend.ts';
import { loadCheckpoint } from '../../worker/engine/checkpoint/index.ts';
import { generateSyntheticDataset } from '../../worker/engine/data/index.ts';
import { trainSession, valSession, type SessionEvent } from '../../worker/engine/train/index.ts';

const info = await initBackend();
t.comment(`backend: ${info.backend}`);
const WEIGHTS = fileURLToPath(new URL('../fixtures/pt/yolov5n-w0125.pt', import.meta.url));
const SD = fileURLToPath(new URL('../fixtures/pt/yolov5n-w0125-sd.pt', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'weights-train-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const ds = await generateSyntheticDataset({ dir: join(dir, 'data'), train: 8, val: 4, img: 64, seed: 0 });

t.test("train --weights FILE.pt without --cfg: the file's model, 343/349 transferred to nc 3", async (t) => {
  const events: SessionEvent[] = [];
  const r = await trainSession({
    data: ds.yamlPath,
    weights: WEIGHTS,
    img: 64,
    epochs: 1,
    batch: 4,
    noVal: true,
    project: join(dir, 'runs'),
    onEvent: (e) => events.push(e),
  });
  const start = events.find((e) => e.type === 'start');
  t.equal(start?.type === 'start' ? start.pretrained : undefined, `Transferred 343/349 items from ${WEIGHTS}`);
  const cfg = join(r.saveDir, 'model.yaml');
  t.ok(existsSync(cfg) && /width_multiple: 0.125/.test(readFileSync(cfg, 'utf8')), "the .pt's model.yaml is the run's cfg");
  const ck = loadCheckpoint(join(r.saveDir, 'weights', 'last.ckpt'));
  t.equal(ck.meta.cfg, cfg);
  t.equal(ck.meta.weights, WEIGHTS, 'the weights are recorded in the checkpoint');
  t.equal(ck.meta.weightsAnchors, true, "no --cfg: the file's anchors were transferred");
});

t.test('train --weights a bare state dict without --cfg is refused, naming --cfg', async (t) => {
  await t.rejects(
    trainSession({ data: ds.yamlPath, weights: SD, img: 64, epochs: 1, batch: 4, noVal: true, project: join(dir, 'runs') }),
    /pass --cfg/,
  );
});

t.test("val --weights FILE.pt: strict load, the dataset must have the file's classes", async (t) => {
  await t.rejects(valSession({ weights: WEIGHTS, data: ds.yamlPath, img: 64 }), /80 classes, the dataset 3/);
  await t.rejects(valSession({ weights: WEIGHTS, img: 64 }), /pass --data/);
  // the same images under an 80-name yaml
  const y80 = join(dir, 'data', 'coco-like.yaml');
  writeFileSync(
    y80,
    `path: ${join(dir, 'data')}\ntrain: images/train\nval: images/val\nnames: [${Array.from({ length: 80 }, (_, i) => `c${i}`).join(', ')}]\n`,
  );
  const r = await valSession({ weights: WEIGHTS, data: y80, img: 64 });
  t.equal(r.model.nc, 80);
  t.equal(r.metrics.images, 4, 'every validation image evaluated');
  t.ok(r.metrics.map >= 0 && r.metrics.map <= 1);
});
