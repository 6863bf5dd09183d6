/**
 * A warm actor process runs one job after another (worker/actor/reuse.ts) against a real
 * nats-server with auth: the second job's actor answers from the same PID, and nothing of the
 * first job's identity is left in it (no creds in its environment, no NATS connection of the
 * first actor's user on the server, as its monitoring port's /connz lists them). A stopped
 * actor's process is not reused: it exits and the pool forks another.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { credsJwt, jwtClaims } from '../../shared/nats-connect.ts';
import { freePort } from '../kit/nats-server.ts';
import { actorSpec, control, exits, jobSpec, natsEnv, pretendHead, spawnMsg, startTestAgent, waitActor, type Env } from './helpers.ts';

function environ(pid: number): string[] {
  return readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter(Boolean);
}

interface Conn {
  name?: string;
  authorized_user?: string;
}

/** A server with auth and a monitoring port on loopback (this test reads its /connz). */
async function envWithMonitor(t: Parameters<typeof natsEnv>[0], tag: string): Promise<{ env: Env; monitor: string }> {
  const port = await freePort();
  return { env: await natsEnv(t, tag, { extraConfig: `http: 127.0.0.1:${port}` }), monitor: `http://127.0.0.1:${port}` };
}

/** Every client connection the server has now, with the user each authenticated as. */
async function connections(monitor: string): Promise<Conn[]> {
  const res = await fetch(`${monitor}/connz?auth=true&limit=1000`);
  if (!res.ok) throw new Error(`connz: HTTP ${res.status}`);
  return ((await res.json()) as { connections?: Conn[] }).connections ?? [];
}

/** The public key (JWT subject) of the user in a creds text. */
function userOf(creds: string): string {
  const sub = (jwtClaims(credsJwt(creds)) as { sub?: string }).sub;
  if (!sub) throw new Error('creds without a subject');
  return sub;
}

t.test('one warm process runs two jobs in turn and keeps nothing of the first', async (t) => {
  const { env, monitor } = await envWithMonitor(t, 'ru');
  pretendHead(env.nc, env.s);
  const ex = exits(env.nc, env.s);
  const agent = await startTestAgent(t, env, { nodeId: 'node-r', slots: 1, warmActors: 1 });
  const pool = agent.warm;
  if (!pool) throw new Error('the agent has no warm pool');
  await pool.until((s) => s.ready === 1);
  const job = jobSpec({ trainer: { kind: 'logreg', steps: 3, features: 4, batch: 8 } });

  const a = actorSpec({ jobId: 'ja', actorId: 'ja-r0', nodeId: 'node-r', job });
  const msgA = await spawnMsg(env, a);
  if (msgA.op !== 'spawn' || !msgA.creds) throw new Error('no creds minted for actor A');
  const replyA = await control(env.nc, env.s.nodeControl('node-r'), msgA);
  if (!replyA.ok) throw new Error(`spawn A refused: ${replyA.error.message}`);
  const pid = (replyA.result as { pid: number }).pid;
  t.match((await ex.next((e) => e.actorId === 'ja-r0')).outcome, { kind: 'succeeded', step: 3 }, 'job A succeeded');
  const back = await pool.until((s) => (s.reused ?? 0) === 1);
  t.equal(back.reused, 1, 'its process went back to the pool');
  t.ok(pool.readyPids().includes(pid), `process ${pid} is ready again`);

  const b = actorSpec({
    jobId: 'jb',
    actorId: 'jb-r0',
    nodeId: 'node-r',
    job: jobSpec({ trainer: { kind: 'logreg', steps: 40, features: 4, batch: 8, step_delay_ms: 50 } }),
  });
  const replyB = await control(env.nc, env.s.nodeControl('node-r'), await spawnMsg(env, b));
  t.match(replyB, { ok: true, result: { actorId: 'jb-r0', pid } }, 'job B is placed on the same process');
  const st = await waitActor(env.nc, env.s, 'jb-r0', (s) => s.step !== null && s.step > 0);
  t.equal(st.pid, pid, 'actor B answers on NATS from the same PID');
  t.equal(st.actorId, 'jb-r0', 'as actor B');

  t.notOk(
    environ(pid).some((l) => /^FLOTILLA_(NATS_CREDS|JOIN_TOKEN|ACTOR_SPEC)=/.test(l)),
    'no creds or spec in its environment',
  );
  t.notOk(
    environ(pid).some((l) => l.includes(credsJwt(msgA.creds!))),
    "no trace of A's JWT in its environment",
  );
  const conns = await connections(monitor);
  const userA = userOf(msgA.creds);
  const msgB = await spawnMsg(env, b); // the same permissions: only its user key differs, so compare names and keys
  t.ok(msgB.op === 'spawn' && msgB.creds && userOf(msgB.creds) !== userA, 'every mint is a user of its own');
  t.ok(
    conns.some((c) => c.name === 'flotilla-actor-jb-r0' && c.authorized_user?.startsWith('U')),
    "the server lists actor B's connection with its user key (the check sees actors)",
  );
  t.notOk(
    conns.some((c) => c.name?.startsWith('flotilla-actor-ja-r0')),
    'no connection named for actor A is left',
  );
  t.notOk(
    conns.some((c) => c.authorized_user === userA),
    "no connection is authenticated as actor A's user",
  );
  t.match((await ex.next((e) => e.actorId === 'jb-r0')).outcome, { kind: 'succeeded', step: 40 }, 'job B succeeded');
});

t.test("a stopped actor's process is not reused", async (t) => {
  const env = await natsEnv(t, 'rf');
  pretendHead(env.nc, env.s);
  const ex = exits(env.nc, env.s);
  const agent = await startTestAgent(t, env, { nodeId: 'node-f', slots: 1, warmActors: 1 });
  const pool = agent.warm;
  if (!pool) throw new Error('the agent has no warm pool');
  await pool.until((s) => s.ready === 1);
  const [pid] = pool.readyPids();
  const job = jobSpec({ trainer: { kind: 'logreg', steps: 10_000, features: 4, batch: 8, step_delay_ms: 50 } });
  const spec = actorSpec({ jobId: 'jf', actorId: 'jf-r0', nodeId: 'node-f', job });
  const reply = await control(env.nc, env.s.nodeControl('node-f'), await spawnMsg(env, spec));
  t.match(reply, { ok: true, result: { pid } }, 'the warm process took the job');
  await waitActor(env.nc, env.s, 'jf-r0', (s) => s.step !== null && s.step > 0);
  t.match(await control(env.nc, env.s.nodeControl('node-f'), { op: 'stop', actorId: 'jf-r0', reason: 'test' }), { ok: true });
  const outcome = (await ex.next((e) => e.actorId === 'jf-r0')).outcome;
  t.equal(outcome.kind, 'cancelled', 'the actor was cancelled');
  t.ok(outcome.exitCode !== null || outcome.signal !== null, `its process exited (code ${outcome.exitCode}, signal ${outcome.signal})`);
  const refilled = await pool.until((s) => s.ready >= 1);
  t.equal(refilled.reused ?? 0, 0, 'nothing was given back');
  t.notOk(pool.readyPids().includes(pid), 'the pool holds another process');
});
