/**
 * Resume through the whole loop: a run interrupted mid-epoch and resumed from its last.ckpt
 * (fresh model, fresh loaders, data cursor from the checkpoint) ends with the same weights,
 * EMA and results.csv rows as the run that never stopped.
 */
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { initBackend } from '../../worker/engine/backend.ts';
import { loadCheckpoint } from '../../worker/engine/checkpoint/index.ts';
import { trainSession, type TrainSessionOptions } from '../../worker/engine/train/index.ts';
import { TINY_YAML } from './train-fixtures.ts';

function sameBits(a: Float32Array, b: Float32Array): boolean {
  return (
    a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength))
  );
}

t.test('interrupted + resumed run == uninterrupted run', async (t) => {
  const backend = await initBackend();
  t.comment(`backend: ${backend.backend}`);
  const dir = mkdtempSync(join(tmpdir(), 'fit-resume-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const cfg = join(dir, 'tiny.yaml');
  writeFileSync(cfg, stringify(TINY_YAML));
  const base: TrainSessionOptions = {
    data: 'synthetic',
    cfg,
    img: 64,
    epochs: 2,
    batch: 2,
    nbs: 4,
    seed: 3,
    synthTrain: 8,
    synthVal: 4,
    synthOptions: { classes: ['circle', 'square'], objects: [1, 2] },
    project: dir,
    existOk: true,
    hypOverrides: { warmup_epochs: 0 },
    saveEvery: 1,
  };
  const straight = await trainSession({ ...base, name: 'straight' });
  t.equal(straight.epochsRun, 2);

  const ac = new AbortController();
  await t.rejects(
    trainSession({
      ...base,
      name: 'cut',
      signal: ac.signal,
      onEvent: (e) => {
        if (e.type === 'batch' && e.epoch === 0 && e.index === 2) ac.abort(new Error('simulated crash'));
      },
    }),
    /simulated crash/,
  );
  const cutLast = join(dir, 'cut', 'weights', 'last.ckpt');
  const mid = loadCheckpoint(cutLast).meta.fit as { cursor: { epoch: number; index: number } };
  t.same(mid.cursor, { epoch: 0, index: 3 }, 'the checkpoint was taken mid-epoch');
  const resumed = await trainSession({ ...base, data: '', resume: cutLast });
  t.equal(resumed.saveDir, join(dir, 'cut'), 'resume continues in the run folder');

  const a = loadCheckpoint(straight.lastPath),
    b = loadCheckpoint(resumed.lastPath);
  const bad: string[] = [];
  for (const [k, v] of a.tensors) {
    const w = b.tensors.get(k);
    if (!w || !sameBits(v.data as Float32Array, w.data as Float32Array)) bad.push(k);
  }
  t.same(bad, [], 'model, EMA and optimizer tensors bit-identical');
  t.same(b.meta.train, a.meta.train, 'counters equal');
  const rows = (p: string) => readFileSync(p, 'utf8').trimEnd().split('\n');
  t.same(rows(resumed.resultsPath), rows(straight.resultsPath), 'results.csv rows identical');
});
