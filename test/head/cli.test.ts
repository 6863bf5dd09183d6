/** The client commands (submit, status, logs, scale, cancel) run in-process against a head on a real port. */
import t from 'tap';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { headFixture } from './helpers/head.ts';
import { until } from './helpers/wait.ts';
import { run as submit } from '../../bin/cli/submit.ts';
import { run as status } from '../../bin/cli/status.ts';
import { run as logs } from '../../bin/cli/logs.ts';
import { run as scale } from '../../bin/cli/scale.ts';
import { run as cancel } from '../../bin/cli/cancel.ts';
import { main } from '../../bin/cli/main.ts';

async function capture(f: () => Promise<number>): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const log = console.log;
  const error = console.error;
  console.log = (...a: unknown[]) => {
    out.push(a.join(' '));
  };
  console.error = (...a: unknown[]) => {
    err.push(a.join(' '));
  };
  try {
    return { code: await f(), out: out.join('\n'), err: err.join('\n') };
  } finally {
    console.log = log;
    console.error = error;
  }
}

t.test('submit (file and flags), status, logs, scale, cancel', async (t) => {
  const { head, agent } = await headFixture(t, { port: 0 });
  const a = await agent('n1', 2);
  const server = ['--server', head.url];
  const dir = mkdtempSync(join(tmpdir(), 'flotilla-cli-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'job.yaml');
  writeFileSync(file, 'name: from-yaml\nworkers: 1\ntrainer:\n  kind: logreg\n  steps: 7\n');
  const s1 = await capture(() => submit([file, ...server, '--priority', '3']));
  t.equal(s1.code, 0);
  const id = s1.out.trim();
  const rec = head.ctl.jobs.get(id)!;
  t.equal(rec.spec.name, 'from-yaml', 'spec from the YAML file');
  t.equal(rec.spec.priority, 3, 'flags override the file');
  t.equal(rec.spec.trainer.kind === 'logreg' && rec.spec.trainer.steps, 7);
  await until('spawned', () => a.of(id).length === 1);
  await a.event({ type: 'metric', jobId: id, ts: Date.now(), generation: 0, rank: 0, step: 1, values: { loss: 0.5 } });
  a.exit(a.of(id)[0].actorId, { kind: 'succeeded' });
  await until(
    'succeeded with its last step (progress and exits travel apart)',
    () => head.ctl.jobs.get(id)?.state === 'succeeded' && head.ctl.jobs.get(id)?.step === 1,
  );

  const js = await capture(() => status([id, '--json', ...server]));
  t.match(JSON.parse(js.out), { id, state: 'succeeded', generation: 0, restarts: 0, step: 1 });
  const table = await capture(() => status(server));
  t.match(table.out, id);
  t.match(table.out, /^JOB\s+NAME\s+STATE/m, 'the jobs table has its header');
  t.match(table.out, /^n1\s+\S+\s+\S+/m, 'the workers table lists n1');
  const lg = await capture(() => logs([id, ...server]));
  t.match(lg.out, /state pending/);
  t.match(lg.out, /step 1 loss=0.5/);
  t.match(lg.out, /state succeeded/);
  const from = Number(
    lg.out
      .split('\n')
      .find((l) => l.includes('step 1'))!
      .trim()
      .split(/\s+/)[0],
  );
  const lg2 = await capture(() => logs([id, '--from', String(from + 1), '--json', ...server]));
  t.same(
    lg2.out.split('\n').map((l) => JSON.parse(l).event.type),
    ['state'],
    'logs --from skips what came before',
  );

  const big = (await capture(() => submit([...server, '--workers', '9', '--steps', '3']))).out.trim();
  t.match((await capture(() => scale([big, '4', ...server]))).out, 'workers=4');
  t.match((await capture(() => cancel([big, ...server]))).out, `${big} cancelled`);
  const again = await capture(() => main(['cancel', big, ...server]));
  t.equal(again.code, 1, 'cancelling a cancelled job fails');
  t.match(again.err, 'already cancelled');
  const bad = await capture(() => main(['submit', ...server, '--workers', '0']));
  t.equal(bad.code, 1);
  t.match(bad.err, 'body.workers', 'a 400 names the field');
  // logs -f follows a running job until it ends
  const live = (await capture(() => submit([...server, '--steps', '3']))).out.trim();
  await until('live job spawned', () => a.of(live).length === 1);
  const following = capture(() => logs([live, '-f', ...server]));
  await a.event({ type: 'log', jobId: live, ts: Date.now(), generation: 0, level: 'info', rank: 0, msg: 'training' });
  a.exit(a.of(live)[0].actorId, { kind: 'succeeded' });
  const followed = await following;
  t.equal(followed.code, 0);
  t.match(followed.out, /info rank0: training[\s\S]*state succeeded/, 'logs -f streams until the job ends');
  const down = await capture(() => main(['status', '--server', 'http://127.0.0.1:1']));
  t.match(down.err, 'cannot reach the head');
});
