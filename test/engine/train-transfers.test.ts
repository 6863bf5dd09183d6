/**
 * The step on the device: host round trips of fit's training step, counted at tfjs's engine
 * (worker/engine/host-transfers.ts) on native-cpu with YOLOv5n at 64 px, batch 2. Between two
 * batch events of fit (one whole iteration of the one loop: beforeStep, forward, loss,
 * backward, the gradient read, the reduce hook, the finite guard, the update, the event) there
 * are at most 4 transfers of host data:
 *   iteration without an optimizer step: 1 write (images + target assignment), 1 read (flat gradient + loss items)
 *   iteration with an optimizer step:    + 1 write (the clipped gradient with the step's scalars)
 * Excluded because they do not happen per step: the epoch end (validation, results.csv,
 * last.ckpt/best.ckpt) and periodic checkpoints (saveEvery, drains). One-element constants (JS
 * numbers given to ops, mostly inside tfjs's own gradients) are counted apart and only reported.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { initBackend } from '../../worker/engine/backend.ts';
import { hostTransfers, trackHostTransfers, transfersSince, type HostTransfers } from '../../worker/engine/host-transfers.ts';
import { loadHyp } from '../../worker/engine/hyp/index.ts';
import { buildModel } from '../../worker/engine/model/index.ts';
import { Trainer, fit, type BatchSource, type TrainBatch } from '../../worker/engine/train/index.ts';
import { loadAddon } from '../../worker/native/index.ts';
import { syntheticBatch } from './train-fixtures.ts';

const IMG = 64,
  BS = 2,
  NB = 5;

const source: BatchSource = {
  length: NB,
  async *epochBatches(epoch: number, from = 0): AsyncIterable<TrainBatch> {
    for (let k = from; k < NB; k++) yield syntheticBatch(epoch * NB + k, BS, IMG);
  },
};

const addon = loadAddon();
t.test(
  'YOLOv5n on native-cpu: at most 4 host transfers per iteration of fit',
  { skip: addon.ok ? false : `native addon not built: ${addon.ok ? '' : addon.reason}` },
  async (t) => {
    const info = await initBackend({ force: 'native-cpu' });
    t.equal(info.backend, 'native-cpu');
    trackHostTransfers();
    // nbs 4 at batch 2: an optimizer step every second iteration, so both kinds are seen
    const hyp = loadHyp(undefined, { warmup_epochs: 0 });
    const trainer = new Trainer(buildModel('yolov5n', { nc: 2, seed: 3 }), {
      hyp,
      epochs: 1,
      batchSize: BS,
      batchesPerEpoch: NB,
      imgsz: IMG,
      nbs: 4,
    });
    const dir = mkdtempSync(join(tmpdir(), 'flotilla-transfers-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const per: { stepped: boolean; d: HostTransfers }[] = [];
    let mark: HostTransfers | null = null;
    let reduced = 0;
    await fit(trainer, {
      train: source,
      saveDir: dir,
      hooks: {
        leader: false,
        reduceGradients: async (g) => {
          reduced += g.length > 0 ? 1 : 0;
        },
      },
      onEvent: (e) => {
        if (e.type !== 'batch') return;
        if (mark) per.push({ stepped: e.stepped, d: transfersSince(mark) });
        mark = hostTransfers();
      },
    });
    t.equal(reduced, NB, 'the reduce hook saw every gradient');
    t.equal(per.length, NB - 1);
    t.ok(per.some((p) => p.stepped) && per.some((p) => !p.stepped), 'iterations with and without an optimizer step');
    for (const [i, { stepped, d }] of per.entries()) {
      t.comment(
        `iteration ${i + 2}${stepped ? ' (optimizer step)' : ''}: ${d.reads} reads ${(d.readBytes / 2 ** 20).toFixed(2)} MiB, ${d.writes} writes ${(d.writeBytes / 2 ** 20).toFixed(2)} MiB, ${d.constants} one-element constants`,
      );
      t.equal(d.reads, 1, `iteration ${i + 2}: one read (gradient + loss items)`);
      t.equal(d.writes, stepped ? 2 : 1, `iteration ${i + 2}: ${stepped ? 'two writes (batch; gradient + scalars)' : 'one write (batch)'}`);
      t.ok(d.reads + d.writes <= 4, `iteration ${i + 2}: ${d.reads + d.writes} <= 4 host round trips`);
      t.equal(d.readBytes, (trainer.layout.size + 3) * 4, 'the read is the flat gradient and three loss items');
    }
  },
);
