/**
 * The agent's warm actor pool against a real nats-server with auth: a placement takes the
 * process the pool started before the spawn (same PID, already loaded), the process held no
 * credentials until its start (none in its environment, before or after), the actor trains with
 * the creds minted for it (given over IPC), and the pool forks a replacement afterwards (and
 * takes the process back once its actor ended clean).
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { decode } from '../../shared/codec.ts';
import { NodeHeartbeat } from '../../shared/schemas/index.ts';
import { Collector, actorSpec, control, exits, jobSpec, natsEnv, pretendHead, spawnMsg, startTestAgent, waitActor } from './helpers.ts';

function environ(pid: number): string[] {
  return readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter(Boolean);
}

t.test('a spawn takes the warm process started before it; the pool refills; no creds in a warm process', async (t) => {
  const env = await natsEnv(t, 'wp');
  pretendHead(env.nc, env.s);
  const ex = exits(env.nc, env.s);
  const beats = new Collector(env.nc, env.s.nodeHeartbeat('node-w'), (m) => decode(NodeHeartbeat, m.data));
  const agent = await startTestAgent(t, env, { nodeId: 'node-w', slots: 1, warmActors: 1 });
  const pool = agent.warm;
  if (!pool) throw new Error('the agent has no warm pool');
  await pool.until((s) => s.ready === 1);
  const [warmPid] = pool.readyPids();
  t.ok(warmPid > 0, `warm process ${warmPid} ready`);
  const before = environ(warmPid);
  t.ok(before.includes('FLOTILLA_ACTOR_WARM=1'), 'started as a warm actor');
  const headJwt = env.srv.auth!.headCreds.match(/eyJ[\w-]+\.[\w-]+\.[\w-]+/)?.[0] ?? 'no-jwt';
  t.notOk(
    before.some((l) => /^FLOTILLA_(NATS_CREDS|JOIN_TOKEN|ACTOR_SPEC)=/.test(l)),
    'no creds, join token or spec in its environment',
  );
  t.notOk(
    before.some((l) => l.includes(headJwt) || l.includes('NATS USER JWT')),
    'no credential text anywhere in its environment',
  );
  t.match((await beats.next((b) => b.warm?.ready === 1)).warm, { size: 1, ready: 1, taken: 0 }, 'the heartbeat reports the pool');

  const job = jobSpec({ trainer: { kind: 'logreg', steps: 30, features: 4, batch: 8, step_delay_ms: 100 } });
  const spec = actorSpec({ jobId: 'jw', actorId: 'jw-r0', nodeId: 'node-w', job });
  const msg = await spawnMsg(env, spec);
  t.ok(msg.op === 'spawn' && msg.creds, 'the spawn carries creds minted for this actor alone');
  const reply = await control(env.nc, env.s.nodeControl('node-w'), msg);
  t.match(reply, { ok: true, result: { actorId: 'jw-r0', pid: warmPid } }, 'the placed actor is the warm process');
  const st = await waitActor(env.nc, env.s, 'jw-r0', (s) => s.state === 'running' || s.step !== null);
  t.equal(st.pid, warmPid, 'the actor answering on NATS (with its minted creds) runs in the warm process');
  t.notOk(
    environ(warmPid).some((l) => /^FLOTILLA_NATS_CREDS=/.test(l)),
    'its creds never entered its environment',
  );
  t.match((await ex.next((e) => e.actorId === 'jw-r0')).outcome, { kind: 'succeeded', step: 30 }, 'the warm actor trained to the end');

  // the refill (forked at the actor's first step, every slot being busy) and the process the
  // actor gave back when it ended clean (logreg is reusable: test/worker/actor-reuse.test.ts)
  const refilled = await pool.until((s) => s.ready === 2 && s.taken === 1);
  t.match(refilled, { size: 1, ready: 2, taken: 1, reused: 1 });
  const pids = pool.readyPids();
  t.ok(pids.includes(warmPid), `the actor's process ${warmPid} is back in the pool`);
  t.ok(
    pids.some((p) => p !== warmPid),
    `refilled with a new process (${pids.join(', ')})`,
  );
  t.match(
    (await beats.next((b) => b.warm?.taken === 1 && b.warm.ready === 2)).warm,
    { taken: 1, ready: 2, reused: 1 },
    'the heartbeat counts the taken and the given-back one',
  );
});
