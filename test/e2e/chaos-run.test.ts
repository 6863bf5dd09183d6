/**
 * `flotilla chaos run` against a real cluster (nats-server, head, one agent process with 2
 * slots): a plan whose bound is violated (max_steps_lost 0 with a kill-actor fault and
 * checkpoints only every 20 steps) exits 1 and says why, while the baseline it asked for
 * (digest_equal_baseline) ran fault-free and matched.
 */
import t from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { startNatsServer, uniquePrefix } from '../kit/nats-server.ts';
import { startHead } from '../../head/head.ts';
import { HeadClient } from '../../bin/cli/client.ts';
import { cli, startAgentProc } from '../head/helpers/procs.ts';
import { ChaosResult, type ChaosPlanInput } from '../../shared/schemas/chaos.ts';

const dir = mkdtempSync(join(tmpdir(), 'flotilla-chaos-'));
const write = (name: string, plan: unknown): string => {
  const p = join(dir, name);
  writeFileSync(p, stringify(plan));
  return p;
};

t.test('a violated bound makes chaos run exit 1; the baseline ran and matched', async (t) => {
  const nats = await startNatsServer();
  t.teardown(() => nats.stop());
  const c = { natsUrl: nats.url, auth: nats.auth, prefix: uniquePrefix('ch') };
  const head = await startHead({ ...c, ...nats.auth?.headOptions, port: 0, deadAfterMs: 2000, restartBackoffMs: 200 });
  t.teardown(() => head.stop());
  await startAgentProc(t, c, 'ch-a', 2);
  const plan: ChaosPlanInput = {
    name: 'strict',
    experiments: [
      {
        name: 'kill-strict',
        job: {
          workers: 2,
          checkpoint_every: 20,
          recovery: 'checkpoint',
          trainer: { kind: 'logreg', steps: 30, step_delay_ms: 50 },
          faults: [{ kind: 'kill-actor', target: { rank: 1 }, at_step: 12 }],
        },
        expect: { max_steps_lost: 0, digest_equal_baseline: true, max_recovery_s: 120 },
        timeout_s: 240,
      },
    ],
  };
  const r = await cli(['chaos', 'run', write('strict.yaml', plan), '--json', '--server', head.url]);
  t.equal(r.code, 1, `exit 1 (stderr: ${r.stderr.slice(-2000)})`);
  const res = ChaosResult.parse(JSON.parse(r.stdout));
  t.equal(res.ok, false);
  t.equal(res.rows.length, 1, 'one row per fault');
  const row = res.rows[0];
  t.match(row.fault, /^f\d+ kill-actor rank 1/);
  t.ok(row.steps_lost >= 1, `steps lost ${row.steps_lost}: the kill at step 12 rolled back to the start (no checkpoint before 20)`);
  t.ok(
    row.problems.some((p) => /steps lost > max_steps_lost 0/.test(p)),
    row.problems.join('; '),
  );
  t.notOk(
    row.problems.some((p) => /digest/.test(p)),
    "the final weights equal the baseline's",
  );
  const x = res.experiments[0];
  t.ok(x.baseline_job_id, 'a baseline job ran');
  const api = new HeadClient(head.url);
  const [job, base] = await Promise.all([api.get(x.job_id), api.get(x.baseline_job_id!)]);
  t.equal(base.spec.faults.length, 0, 'the baseline ran without faults');
  t.equal(job.state, 'succeeded');
  t.equal(job.final_digest, base.final_digest);
  t.equal(row.steps_lost, (await api.report(x.job_id)).faults[0].steps_lost, "the row shows the report's figure");

  const table = await cli(['chaos', 'run', write('strict.yaml', plan), '--server', head.url, '--only', 'nope']);
  t.equal(table.code, 2, '--only with an unknown name: exit 2');
});
