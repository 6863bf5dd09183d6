/**
 * Free text has a bound (shared/schemas/bounds.ts MAX_TEXT), but an actor's outcome must never
 * be lost to its length: an exit whose message is a 100 kB stack is reported with the message
 * clipped, and a log event of that size is published clipped.
 */
import t from 'tap';
import { connect } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { startNatsServer, uniquePrefix } from '../kit/nats-server.ts';
import { subjects } from '../../shared/subjects.ts';
import { exitsStreamName } from '../../head/resources.ts';
import { reportExit } from '../../worker/agent/exit-report.ts';
import { publishEvent } from '../../shared/event-publish.ts';
import { MAX_TEXT } from '../../shared/schemas/bounds.ts';
import type { ActorExit } from '../../shared/schemas/index.ts';

t.test('a 100 kB exit message and log line are clipped, not refused', async (t) => {
  const srv = await startNatsServer();
  t.teardown(() => srv.stop());
  const s = subjects(uniquePrefix('xc'));
  const nc = await connect(srv.options());
  t.teardown(() => nc.close());
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: exitsStreamName(s), subjects: [s.allActorExits] });
  await jsm.streams.add({ name: s.eventsStream, subjects: [s.allJobEvents] });
  const stack = `Error: boom\n${'    at frame (file.ts:1:1)\n'.repeat(4000)}`;
  t.ok(stack.length > 100_000, `a ${stack.length}-character message`);
  const exit: ActorExit = {
    nodeId: 'n1',
    actorId: 'a1',
    jobId: 'j1',
    generation: 0,
    rank: 0,
    outcome: { kind: 'fatal', message: stack, exitCode: 3, signal: null },
  };
  t.equal(
    await reportExit(jetstream(nc), s.actorExit('n1'), exit, new AbortController().signal, () => undefined),
    true,
    'the exit is reported',
  );
  const info = await jsm.streams.info(exitsStreamName(s));
  const got = (await jsm.streams.getMessage(exitsStreamName(s), { seq: info.state.first_seq }))?.json() as ActorExit;
  t.equal(got.outcome.kind, 'fatal', 'with its outcome');
  t.equal(got.outcome.message.length, MAX_TEXT, 'and its message clipped to the bound');
  t.ok(got.outcome.message.startsWith('Error: boom'), 'from its start');
  const seq = await publishEvent(jetstream(nc), s, {
    jobId: 'j1',
    ts: Date.now(),
    generation: 0,
    type: 'log',
    level: 'error',
    rank: 0,
    msg: stack,
  });
  const ev = (await jsm.streams.getMessage(s.eventsStream, { seq }))?.json() as { msg: string };
  t.equal(ev.msg.length, MAX_TEXT, 'a log line of that size is published clipped');
});
