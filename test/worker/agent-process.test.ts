import t from 'tap';
import { ourEntry } from '../head/helpers/procs.ts';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { decode, encode } from '../../shared/codec.ts';
import { NodeHeartbeat } from '../../shared/schemas/index.ts';
import { REPO_ROOT } from '../../worker/agent/start.ts';
import { Collector, actorSpec, control, spawnMsg, exits, jobSpec, natsEnv, pretendHead, waitActor, type Env } from './helpers.ts';

/** The real agent entry in its own process; resolves once it printed its registered line. */
async function startAgentProcess(
  t: { teardown(f: () => unknown): void },
  env: Env,
  nodeId: string,
): Promise<{ proc: ChildProcess; exited: Promise<number | null>; line: string }> {
  const proc = spawn(process.execPath, ourEntry('worker/agent/main.ts'), {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      FLOTILLA_NATS_URL: env.srv.url,
      FLOTILLA_PREFIX: env.prefix,
      FLOTILLA_NODE_ID: nodeId,
      FLOTILLA_SLOTS: '1',
      FLOTILLA_LOG_LEVEL: 'warn',
      FLOTILLA_JOIN_TOKEN: await env.srv.auth!.joinToken(env.prefix, nodeId),
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  t.teardown(() => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  });
  const rl = createInterface({ input: proc.stdout! });
  const line = await new Promise<string>((resolve, reject) => {
    rl.on('line', (l) => {
      if (/registered/.test(l)) resolve(l);
    });
    proc.once('exit', (code) => reject(new Error(`agent exited (${code}) before registering`)));
  });
  return { proc, exited, line };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const longJob = jobSpec({ trainer: { kind: 'logreg', steps: 100_000, features: 4, batch: 8, step_delay_ms: 200 } });

t.test('main.ts registers, and on SIGTERM announces leaving, waits for the head to move its actor, exits 0', async (t) => {
  const env = await natsEnv(t, 'ap');
  pretendHead(env.nc, env.s);
  const ex = exits(env.nc, env.s);
  const leaving = new Collector(env.nc, env.s.allNodeLeaving, (m) => decode(NodeHeartbeat, m.data));
  const a = await startAgentProcess(t, env, 'node-term');
  t.match(a.line, /node node-term registered \(slots 1, backend \S+, device .+\)/);

  await control(
    env.nc,
    env.s.nodeControl('node-term'),
    await spawnMsg(env, actorSpec({ jobId: 'jt', actorId: 'mover', nodeId: 'node-term', job: longJob })),
  );
  await waitActor(env.nc, env.s, 'mover', (s) => s.state === 'running');
  a.proc.kill('SIGTERM');
  const note = await leaving.next();
  t.equal(note.draining, true);
  t.match(note.actors, [{ actorId: 'mover', generation: 0 }], 'the leaving note lists the actor to move');
  const refused = await control(
    env.nc,
    env.s.nodeControl('node-term'),
    await spawnMsg(env, actorSpec({ jobId: 'jt', actorId: 'late', generation: 1, nodeId: 'node-term', job: longJob })),
  );
  t.match(refused, { ok: false, error: { code: 'FLO_INVALID_STATE' } }, 'a draining node takes no new actors');
  // The head moves the job: new generation, the old one aborted.
  env.nc.publish(env.s.jobAbort('jt'), encode({ jobId: 'jt', generation: 1, reason: 'node leaving' }));
  t.match((await ex.next((e) => e.actorId === 'mover')).outcome, { kind: 'cancelled' });
  t.equal(await a.exited, 0, 'agent exits 0');
});

t.test('on SIGTERM with no head to move actors, the agent stops them as retryable after its bounded wait', async (t) => {
  const env = await natsEnv(t, 'ap');
  pretendHead(env.nc, env.s);
  const ex = exits(env.nc, env.s);
  const a = await startAgentProcess(t, env, 'node-alone');
  await control(
    env.nc,
    env.s.nodeControl('node-alone'),
    await spawnMsg(env, actorSpec({ jobId: 'jl', actorId: 'stranded', nodeId: 'node-alone', job: longJob })),
  );
  await waitActor(env.nc, env.s, 'stranded', (s) => s.state === 'running');
  a.proc.kill('SIGTERM');
  t.match((await ex.next((e) => e.actorId === 'stranded')).outcome, { kind: 'retryable', message: /node leaving/ });
  t.equal(await a.exited, 0);
});

t.test('SIGKILL of the agent: its orphaned actor notices and exits', async (t) => {
  const env = await natsEnv(t, 'ap');
  pretendHead(env.nc, env.s);
  const a = await startAgentProcess(t, env, 'node-dies');
  const r = await control(
    env.nc,
    env.s.nodeControl('node-dies'),
    await spawnMsg(env, actorSpec({ jobId: 'jd', actorId: 'orphan', nodeId: 'node-dies', job: longJob })),
  );
  const pid = r.ok ? (r.result as { pid: number }).pid : 0;
  await waitActor(env.nc, env.s, 'orphan', (s) => s.state === 'running');
  a.proc.kill('SIGKILL');
  await a.exited;
  while (alive(pid)) await new Promise((res) => setTimeout(res, 100));
  t.pass('the actor process is gone');
});
