/**
 * Fast, still safe detection of a dead agent: the head hears the server's client-disconnect
 * advisory (its system-account user), pings the node once its connections closed, and declares
 * it dead without waiting for the heartbeat timeout, which these tests set to 60 s so that only
 * the hint can explain a verdict. Asserted by the order of events and the verdict's reason, not
 * by a time (the measured detection time is printed). And a connection that drops and comes
 * back while the node keeps beating is not a death.
 */
import t from 'tap';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { Logger } from '../../shared/logger.ts';
import { connect } from '@nats-io/transport-node';
import { startNatsServer, uniquePrefix } from '../kit/nats-server.ts';
import { startHead } from '../../head/head.ts';
import { HeadClient } from '../../bin/cli/client.ts';
import { natsOptions } from '../../shared/nats-connect.ts';
import { parseJoinToken } from '../../shared/join-token.ts';
import { Agent } from '../../worker/agent/agent.ts';
import { ACTOR_ENTRY, REPO_ROOT } from '../../worker/agent/start.ts';
import { startAgentProc } from '../head/helpers/procs.ts';
import { until } from '../head/helpers/wait.ts';
import { testLogger } from '../worker/helpers.ts';

const HEARTBEAT_BACKSTOP_MS = 60_000;

/** A head logger whose records the test can read. */
function capturedLog(): { log: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk, _e, cb) {
      for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l));
      cb();
    },
  });
  return { log: pino<never>({ level: 'info' }, sink), lines };
}

t.test('SIGKILL of an agent: the closed connections, a failed ping, then the node is dead and the job moves', async (t) => {
  const nats = await startNatsServer();
  t.teardown(() => nats.stop());
  t.ok(nats.auth?.headOptions.natsRevoker, 'the kit trust chain has the system-account user (revoker.json)');
  const c = { natsUrl: nats.url, auth: nats.auth, prefix: uniquePrefix('fk') };
  const cap = capturedLog();
  const head = await startHead({
    ...c,
    ...nats.auth?.headOptions,
    port: 0,
    deadAfterMs: HEARTBEAT_BACKSTOP_MS,
    restartBackoffMs: 200,
    log: cap.log,
  });
  t.teardown(() => head.stop());
  const [a, b] = await Promise.all([startAgentProc(t, c, 'a', 1), startAgentProc(t, c, 'b', 1)]);
  const agents = { a, b };
  const api = new HeadClient(head.url);
  const job = await api.submit({
    workers: 1,
    max_restarts: 3,
    checkpoint_every: 5,
    trainer: { kind: 'logreg', steps: 60, step_delay_ms: 50 },
  });
  const mid = await until('past the first checkpoint', async () => {
    const j = await api.get(job.id);
    return j.state === 'running' && j.step >= 7 && j;
  });
  const victim = mid.placement[0].nodeId as 'a' | 'b';
  const killedAt = Date.now();
  await agents[victim].kill('SIGKILL');
  const moved = await until(
    'the next generation',
    async () => {
      const j = await api.get(job.id);
      return j.generation >= 1 && j;
    },
    HEARTBEAT_BACKSTOP_MS / 2,
  );
  t.comment(`generation ended ${Date.now() - killedAt} ms after the SIGKILL (heartbeat backstop ${HEARTBEAT_BACKSTOP_MS} ms)`);
  const done = await until(
    'finished',
    async () => {
      const j = await api.get(job.id);
      return ['succeeded', 'failed', 'cancelled'].includes(j.state) && j;
    },
    90_000,
  );
  t.equal(done.state, 'succeeded', `job succeeded on the other node (${done.message})`);
  t.ok(
    done.placement.every((p) => p.nodeId !== victim),
    'the new generation runs elsewhere',
  );

  const events = [];
  for await (const e of api.events(job.id, { follow: false })) events.push(e.event);
  const recovering = events.find((e) => e.type === 'state' && e.state === 'recovering');
  t.match(
    recovering,
    {
      type: 'state',
      generation: 1,
      message: new RegExp(`node ${victim} was lost \\(its (connections|\\w+ connection) closed and it answered no ping\\)`),
    },
    'the verdict came from the closed connections, not from missed heartbeats',
  );
  const firstNewStep = events.find((e) => e.type === 'metric' && e.generation === 1);
  t.ok(
    recovering && firstNewStep && recovering.ts >= killedAt && firstNewStep.ts >= recovering.ts,
    'order: kill, then the node declared dead, then the first step of the new generation',
  );
  const verdict = cap.lines.find((l) => l.msg === 'node connection closed: confirmed gone' && l.node === victim);
  t.ok(verdict, 'the head confirmed the hint (no ping answered, no heartbeat since)');
  if (verdict) t.comment(`hint confirmed ${String(verdict.ms)} ms after the first closed connection`);
  t.notOk(
    cap.lines.some((l) => typeof l.msg === 'string' && l.msg.includes('heartbeats stopped')),
    'no heartbeat-timeout verdict',
  );
});

t.test('a control connection that drops and reconnects while heartbeats go on is not a death', async (t) => {
  const nats = await startNatsServer();
  t.teardown(() => nats.stop());
  const prefix = uniquePrefix('fr');
  const cap = capturedLog();
  const head = await startHead({
    natsUrl: nats.url,
    prefix,
    ...nats.auth?.headOptions,
    port: null,
    deadAfterMs: HEARTBEAT_BACKSTOP_MS,
    log: cap.log,
  });
  t.teardown(() => head.stop());
  const creds = parseJoinToken(await nats.auth!.joinToken(prefix, 'blip')).creds;
  const opts = { maxReconnectAttempts: -1, reconnectTimeWait: 500 };
  const nc = await connect(natsOptions(nats.url, creds, { ...opts, name: 'flotilla-worker-blip' }));
  const hb = await connect(natsOptions(nats.url, creds, { ...opts, name: 'flotilla-worker-blip-heartbeat' }));
  t.teardown(async () => {
    await nc.close();
    await hb.close();
  });
  const agent = new Agent({
    nc,
    heartbeatNc: hb,
    natsUrl: nats.url,
    prefix,
    nodeId: 'blip',
    slots: 1,
    backend: { backend: 'cpu', device: 'test' },
    root: REPO_ROOT,
    actorEntry: ACTOR_ENTRY,
    log: testLogger('worker'),
    heartbeatMs: 200,
    warmActors: 0,
  });
  await agent.start();
  t.teardown(() => agent.close());
  await agent.registered;
  await until('the head knows the node', () => head.ctl.nodes.has('blip'));
  // Drop the control connection's socket under nats.js: the server sees the client close it
  // ("Client Closed"), the client reconnects on its own, the heartbeat connection never stops.
  const transport = (nc as unknown as { protocol: { transport: { socket?: { destroy(): void } } } }).protocol.transport;
  t.ok(transport.socket, 'reached the control connection socket');
  transport.socket?.destroy();
  const verdict = await until('the head checked the hint', () =>
    cap.lines.find((l) => typeof l.msg === 'string' && l.msg.startsWith('node connection closed') && l.node === 'blip'),
  );
  t.equal(verdict.msg, 'node connection closed: still alive', `not declared dead (${String(verdict.why)})`);
  t.ok(head.ctl.nodes.has('blip'), 'the node is still a member');
});
