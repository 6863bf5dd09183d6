/**
 * DiLoCo through the one training loop (fit) in one process (`flotilla train --sync diloco`):
 * a run cut between two outer steps and resumed from its mid-interval last.ckpt ends with the
 * same weights, EMA, optimizer and outer state (anchor, outer momentum) and the same results.csv
 * rows as the run that never stopped; the checkpoint carries the outer state; the outer steps
 * change the result (the run is not plain training).
 */
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { initBackend } from '../../worker/engine/backend.ts';
import { loadCheckpoint } from '../../worker/engine/checkpoint/index.ts';
import { trainSession, type TrainSessionOptions } from '../../worker/engine/train/index.ts';
import { ALLREDUCE_SYNC } from '../../worker/engine/sync/index.ts';
import { TINY_YAML } from '../engine/train-fixtures.ts';

const hex = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('hex');

t.test('diloco: interrupted mid-interval + resumed == uninterrupted', async (t) => {
  await initBackend();
  const dir = mkdtempSync(join(tmpdir(), 'sync-resume-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const cfg = join(dir, 'tiny.yaml');
  writeFileSync(cfg, stringify(TINY_YAML));
  // batch 2, nbs 4: an optimizer step every 2 batches; every 2 optimizer steps an outer step (every 4 batches)
  const sync = { ...ALLREDUCE_SYNC, mode: 'diloco' as const, every: 2 };
  const base: TrainSessionOptions = {
    data: 'synthetic',
    cfg,
    img: 64,
    epochs: 2,
    batch: 2,
    nbs: 4,
    seed: 3,
    synthTrain: 12,
    synthVal: 4,
    synthOptions: { classes: ['circle', 'square'], objects: [1, 2] },
    project: dir,
    existOk: true,
    hypOverrides: { warmup_epochs: 0 },
    saveEvery: 1,
    sync,
  };
  const straight = await trainSession({ ...base, name: 'straight' });
  const plain = await trainSession({ ...base, name: 'plain', sync: undefined });

  const ac = new AbortController();
  await t.rejects(
    trainSession({
      ...base,
      name: 'cut',
      signal: ac.signal,
      // stops at batch 5, so last.ckpt is that of batch 4: optimizer step 3 done, the outer step of step 4 not yet
      onEvent: (e) => {
        if (e.type === 'batch' && e.epoch === 0 && e.index === 5) ac.abort(new Error('simulated crash'));
      },
    }),
    /simulated crash/,
  );
  const cutLast = join(dir, 'cut', 'weights', 'last.ckpt');
  const mid = loadCheckpoint(cutLast);
  t.same((mid.meta.fit as { cursor: unknown }).cursor, { epoch: 0, index: 5 }, 'the checkpoint was taken mid-epoch (after batch 4)');
  const ms = mid.meta.sync as { outerSteps: number[]; lastSent: number[] };
  t.same({ outerSteps: ms.outerSteps, lastSent: ms.lastSent }, { outerSteps: [1], lastSent: [2] }, 'between outer steps 1 and 2');
  t.ok(mid.tensors.get('sync/anchor') && mid.tensors.get('sync/velocity'), 'the outer state is in the checkpoint');
  const resumed = await trainSession({ ...base, data: '', resume: cutLast, sync: undefined });

  const a = loadCheckpoint(straight.lastPath),
    b = loadCheckpoint(resumed.lastPath);
  const bad: string[] = [];
  for (const [k, v] of a.tensors) {
    const w = b.tensors.get(k);
    if (!w || hex(v.data as Float32Array) !== hex(w.data as Float32Array)) bad.push(k);
  }
  t.same(bad, [], 'model, EMA, optimizer and outer tensors bit-identical');
  t.same(b.meta.sync, a.meta.sync, 'outer schedule equal');
  const rows = (p: string) => readFileSync(p, 'utf8').trimEnd().split('\n');
  t.same(rows(resumed.resultsPath), rows(straight.resultsPath), 'results.csv rows identical');
  t.equal(rows(straight.resultsPath).length, 3, 'a header and one row per epoch');
  const p = loadCheckpoint(plain.lastPath);
  const w0 = [...a.tensors.keys()].find((k) => k.startsWith('model/') && k.endsWith('.weight'))!;
  t.not(hex(a.tensors.get(w0)!.data as Float32Array), hex(p.tensors.get(w0)!.data as Float32Array), 'the outer steps changed the weights');
  t.ok(loadCheckpoint(straight.bestPath), 'best.ckpt written');
});
