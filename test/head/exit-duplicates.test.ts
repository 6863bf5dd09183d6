/**
 * The head acts on an actor exit once: repeats of a report (an agent retrying until it is
 * acknowledged, a redelivery) and a late copy of an older generation's exit change nothing.
 */
import t from 'tap';
import { connect } from '@nats-io/transport-node';
import { encode } from '../../shared/codec.ts';
import { subjects } from '../../shared/subjects.ts';
import type { ActorExit } from '../../shared/schemas/index.ts';
import { headFixture } from './helpers/head.ts';
import { until } from './helpers/wait.ts';

t.test('duplicate exit reports restart the gang once and finish it once', async (t) => {
  const { head, agent, nats, prefix } = await headFixture(t);
  const s = subjects(prefix);
  const nc = await connect(nats.options());
  t.teardown(() => nc.close());
  const a = await agent('n1', 1);
  const job = (
    await head.app.inject({ method: 'POST', url: '/v1/jobs', payload: { max_restarts: 3, trainer: { kind: 'logreg', steps: 20 } } })
  ).json();
  const get = async () => (await head.app.inject({ url: `/v1/jobs/${job.id}` })).json();
  await until('spawned', () => a.of(job.id).length === 1);
  const first = a.of(job.id)[0];
  const exitOf = (spec: typeof first, kind: 'retryable' | 'succeeded'): ActorExit => ({
    nodeId: 'n1',
    actorId: spec.actorId,
    jobId: spec.jobId,
    generation: spec.generation,
    rank: spec.rank,
    outcome: {
      kind,
      message: kind === 'retryable' ? 'data connection lost' : 'done',
      exitCode: null,
      signal: null,
      ...(kind === 'succeeded' ? { step: 20 } : {}),
    },
  });
  const failed = encode(exitOf(first, 'retryable'));
  a.exit(first.actorId, { kind: 'retryable', message: 'data connection lost' });
  nc.publish(s.actorExit('n1'), failed); // the same report again
  nc.publish(s.actorExit('n1'), failed);
  await until('generation 1 spawned', () => a.of(job.id).some((x) => x.generation === 1));
  nc.publish(s.actorExit('n1'), failed); // a late copy while the next generation runs
  const second = a.of(job.id).find((x) => x.generation === 1)!;
  a.exit(second.actorId, { kind: 'succeeded' });
  nc.publish(s.actorExit('n1'), encode(exitOf(second, 'succeeded')));
  const done = await until('succeeded', async () => {
    const j = await get();
    return j.state === 'succeeded' && j;
  });
  t.equal(done.restarts, 1, 'one restart for three copies of one failure');
  t.equal(done.generation, 1, 'one new generation');
  const all = (await head.app.inject({ url: `/v1/jobs/${job.id}/events` })).body;
  t.equal((all.match(/"state":"succeeded"/g) ?? []).length, 1, 'succeeded once');
  t.equal((all.match(/"state":"recovering"/g) ?? []).length, 1, 'recovering once');
});
