/**
 * SIGKILL of the one nats-server mid-job, restarted on the same port and store 5 s later and
 * again, later in the job, 0.5 s later: the actors' data lanes die with it, the ranks wait for
 * it, reopen them and redo the step in flight together (worker/collective, epochs), the head
 * (cut off too) decides nothing meanwhile, and the job finishes in its first generation with
 * no restart and every step reported once, in order: no step lost.
 */
import t from 'tap';
import { startRestartableNats, uniquePrefix } from '../kit/nats-server.ts';
import { startHead } from '../../head/head.ts';
import { HeadClient } from '../../bin/cli/client.ts';
import { startAgentProc } from '../head/helpers/procs.ts';
import { expectNoLoss, outageAt } from './outage-helpers.ts';

t.test('nats-server SIGKILLed mid-job, back after 5 s and after 0.5 s: 0 steps lost, no restart (logreg)', async (t) => {
  const nats = await startRestartableNats(t);
  const c = { natsUrl: nats.url, auth: nats.auth, prefix: uniquePrefix('nr') };
  const head = await startHead({ ...c, ...nats.auth?.headOptions, port: 0, deadAfterMs: 3000, restartBackoffMs: 200 });
  t.teardown(() => head.stop());
  await Promise.all([startAgentProc(t, c, 'a', 2), startAgentProc(t, c, 'b', 2)]);
  const api = new HeadClient(head.url);
  const steps = 300;
  const job = await api.submit({ workers: 2, max_restarts: 3, checkpoint_every: 5, trainer: { kind: 'logreg', steps, step_delay_ms: 40 } });
  const long = await outageAt(t, api, job.id, 10, 5000, nats);
  const short = await outageAt(t, api, job.id, long.atStep + 40, 500, nats);
  await expectNoLoss(t, api, job.id, steps, [long, short], 180_000);
});
