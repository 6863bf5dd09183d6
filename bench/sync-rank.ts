/**
 * One rank of `npm run bench:sync` (bench/sync.ts starts it inside a network-namespace host):
 * joins the collective over NATS, builds the run (YOLOv5n on the synthetic set) and trains it
 * with the engine's one loop and the sync strategy, as a job's actor does. Rank 0 prints one
 * JSON line: fit's wall time, optimizer steps, the final mAP@0.5 and the payload bytes it sent.
 * Settings arrive as JSON in FLOTILLA_BENCH_RANK.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { createGroup } from '../worker/collective/index.ts';
import { syncComm } from '../worker/actor/sync-comm.ts';
import { initBackend } from '../worker/engine/backend.ts';
import { loadHyp } from '../worker/engine/hyp/index.ts';
import { SyncStrategy, type SyncSettings } from '../worker/engine/sync/index.ts';
import { fit, setupRun } from '../worker/engine/train/index.ts';

interface RankArgs {
  url: string;
  base: string;
  rank: number;
  world: number;
  data: string;
  img: number;
  batch: number;
  epochs: number;
  nbs: number;
  sync: SyncSettings;
}

const a = JSON.parse(process.env.FLOTILLA_BENCH_RANK ?? '{}') as RankArgs;
await initBackend({ onNotice: () => undefined });
const nc = await connect({ servers: a.url });
const group = await createGroup({
  nc,
  subjectBase: a.base,
  jobId: 'bench',
  generation: 0,
  rank: a.rank,
  worldSize: a.world,
  timeoutMs: 600_000,
});
const hyp = loadHyp(undefined, { warmup_epochs: 0 });
const setup = await setupRun(
  {
    data: a.data,
    cfg: 'yolov5n.yaml',
    imgsz: a.img,
    epochs: a.epochs,
    batch: a.batch,
    seed: 0,
    lrKind: 'linear',
    freeze: [],
    nbs: a.nbs,
    hyp,
    patience: 0,
    noautoanchor: true,
  },
  { rank: a.rank, worldSize: a.world, fresh: true },
);
const dir = mkdtempSync(join(tmpdir(), 'bench-sync-'));
const comm = syncComm(group);
const strategy = new SyncStrategy(a.sync, setup.trainer.layout.size);
await group.barrier(); // every rank has built its model: the clock starts together
const t0 = performance.now();
const r = await fit(setup.trainer, {
  train: setup.train,
  val: setup.val,
  saveDir: dir,
  patience: 0,
  noVal: true,
  hooks: {
    leader: a.rank === 0,
    reduceGradients: (g) => strategy.afterBackward(g, comm),
    gather: (v) => group.allgather(v),
    ...(strategy.local ? { sync: { strategy, comm } } : {}),
  },
});
const wallS = (performance.now() - t0) / 1000;
if (a.rank === 0) {
  console.log(
    JSON.stringify({
      wallS,
      steps: setup.trainer.counters.optimizerSteps,
      batches: setup.trainer.counters.ni,
      map50: r.metrics?.map50 ?? 0,
      payloadBytes: strategy.bytesSent,
    }),
  );
}
await group.close();
await nc.close();
await setup.dispose();
rmSync(dir, { recursive: true, force: true });
process.exit(0);
