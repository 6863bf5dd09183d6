/**
 * Exit reports are stored, not fired and forgotten: a report made while the nats-server is
 * down is retried until the restarted server's exits stream acknowledges it, and a repeat of
 * the same report is stored once (message id = actor id).
 */
import t from 'tap';
import { connect } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { startNatsServer, startRestartableNats, uniquePrefix } from '../kit/nats-server.ts';
import { subjects } from '../../shared/subjects.ts';
import { exitsStreamName } from '../../head/resources.ts';
import { reportExit } from '../../worker/agent/exit-report.ts';
import type { ActorExit } from '../../shared/schemas/index.ts';

t.test('an exit reported while the server is down is stored once it is back, and only once', async (t) => {
  const srv = await startRestartableNats(t);
  const s = subjects(uniquePrefix('ex'));
  const stream = exitsStreamName(s);
  const nc = await connect({ ...srv.options(), maxReconnectAttempts: -1, reconnectTimeWait: 200 });
  t.teardown(() => nc.close());
  await (await jetstreamManager(nc)).streams.add({ name: stream, subjects: [s.allActorExits] });
  const exit: ActorExit = {
    nodeId: 'n1',
    actorId: 'j1-g0-r0',
    jobId: 'j1',
    generation: 0,
    rank: 0,
    outcome: { kind: 'retryable', message: 'lane lost', exitCode: 5, signal: null },
  };
  await srv.kill();
  const retries: number[] = [];
  const stored = reportExit(jetstream(nc), s.actorExit('n1'), exit, new AbortController().signal, (_e, n) => retries.push(n));
  await new Promise((r) => setTimeout(r, 1500));
  await srv.restart();
  t.equal(await stored, true, 'acknowledged by the restarted server');
  t.ok(retries.length >= 1, `retried while the server was down (${retries.length} failed attempts)`);
  t.equal(
    await reportExit(jetstream(nc), s.actorExit('n1'), exit, new AbortController().signal, () => undefined),
    true,
    'a repeat is acknowledged too',
  );
  const info = await (await jetstreamManager(nc)).streams.info(stream);
  t.equal(info.state.messages, 1, 'the stream holds the exit once');
  const msg = await (await jetstreamManager(nc)).streams.getMessage(stream, { seq: info.state.first_seq });
  t.same(msg?.json(), exit, 'the stored exit is the one reported');
});

t.test('giving up: the agent closing ends the retries', async (t) => {
  const srv = await startNatsServer();
  t.teardown(() => srv.stop());
  const nc = await connect(srv.options());
  t.teardown(() => nc.close());
  const s = subjects(uniquePrefix('ex'));
  const ac = new AbortController();
  // no stream captures the subject: every attempt fails
  const p = reportExit(
    jetstream(nc),
    s.actorExit('n1'),
    {
      nodeId: 'n1',
      actorId: 'a1',
      jobId: 'j1',
      generation: 0,
      rank: 0,
      outcome: { kind: 'succeeded', message: '', exitCode: 0, signal: null },
    },
    ac.signal,
    (_e, n) => {
      if (n === 2) ac.abort();
    },
  );
  t.equal(await p, false, 'resolves false once aborted');
});
