/**
 * The NATS outage of nats-restart.test.ts with a 2-rank YOLOv5n job (synthetic data, img 64):
 * the one nats-server SIGKILLed mid-job and back after 5 s, later again after 0.5 s. The ranks
 * wait for it and redo the gradient allreduce in flight together; the job finishes in its
 * first generation with no restart and every step (the engine's batch count) reported once,
 * in order.
 */
import t from 'tap';
import { startRestartableNats, uniquePrefix } from '../kit/nats-server.ts';
import { startHead } from '../../head/head.ts';
import { HeadClient } from '../../bin/cli/client.ts';
import { startAgentProc } from '../head/helpers/procs.ts';
import { expectNoLoss, outageAt } from './outage-helpers.ts';

t.test('nats-server SIGKILLed mid-job, back after 5 s and after 0.5 s: 0 steps lost, no restart (YOLOv5n)', async (t) => {
  const nats = await startRestartableNats(t);
  const c = { natsUrl: nats.url, auth: nats.auth, prefix: uniquePrefix('ny') };
  // a long dead-node threshold: setup (tfjs, the model) blocks an actor for seconds on a loaded machine
  const head = await startHead({ ...c, ...nats.auth?.headOptions, port: 0, deadAfterMs: 10_000, restartBackoffMs: 200 });
  t.teardown(() => head.stop());
  await startAgentProc(t, c, 'a', 2);
  const api = new HeadClient(head.url);
  // 24 training images, batch 4 over 2 ranks: 6 steps an epoch, 4 epochs
  const trainer = {
    kind: 'yolov5' as const,
    cfg: 'yolov5n.yaml',
    img: 64,
    batch: 4,
    epochs: 4,
    synthetic: { train: 24, val: 2, seed: 5 },
    noautoanchor: true,
    patience: 0,
    hyp: { warmup_epochs: 0 },
  };
  const job = await api.submit({ workers: 2, max_restarts: 3, checkpoint_every: 5, trainer });
  const long = await outageAt(t, api, job.id, 3, 5000, nats, 600_000);
  const short = await outageAt(t, api, job.id, long.atStep + 6, 500, nats);
  await expectNoLoss(t, api, job.id, 24, [long, short], 600_000);
});
