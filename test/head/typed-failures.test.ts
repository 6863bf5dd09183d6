/**
 * Typed failures end to end from the actor boundary: an actor whose trainer threw an engine
 * error reports the outcome classify() (worker/actor/runtime.ts) makes of it, and the head acts
 * on that: an error marked non-retryable fails the job with its message and no restart; a
 * retryable one (an interrupted step) restarts the gang.
 */
import t from 'tap';
import { classify } from '../../worker/actor/index.ts';
import { BadInputError } from '../../worker/engine/errors.ts';
import { NonFiniteGradientError } from '../../worker/engine/train/finite-guard.ts';
import { StepInterruptedError } from '../../worker/engine/train/fit.ts';
import { headFixture } from './helpers/head.ts';
import { until } from './helpers/wait.ts';

const live = new AbortController().signal;

t.test('an engine error marked non-retryable fails the job with its message, no restart', async (t) => {
  const { head, agent } = await headFixture(t);
  const a = await agent('n1', 2);
  for (const err of [
    new NonFiniteGradientError(5, 12, 'lower the lr'),
    new BadInputError("bad dataset 'x.yaml'", new Error('no such file')),
  ]) {
    const job = (
      await head.app.inject({ method: 'POST', url: '/v1/jobs', payload: { max_restarts: 3, trainer: { kind: 'logreg', steps: 20 } } })
    ).json();
    await until('spawned', () => a.of(job.id).length === 1);
    const spawned = a.spawned.filter((s) => s.jobId === job.id).length;
    t.equal(err.retryable, false, `${err.name} says a retry cannot help`);
    a.exit(a.of(job.id)[0].actorId, classify(err, live));
    const done = await until('failed', async () => {
      const j = (await head.app.inject({ url: `/v1/jobs/${job.id}` })).json();
      return ['failed', 'succeeded', 'cancelled'].includes(j.state) && j;
    });
    t.equal(done.state, 'failed', `${err.name}: the job failed`);
    t.match(done.message, err.message, 'with the error message');
    t.match(done.message, 'FLO_ACTOR_FATAL', 'as a fatal actor failure');
    t.equal(done.restarts, 0, 'no restart');
    t.equal(a.spawned.filter((s) => s.jobId === job.id).length, spawned, 'no actor spawned again');
  }
});

t.test('a retryable engine error restarts the gang', async (t) => {
  const { head, agent } = await headFixture(t);
  const a = await agent('n1', 1);
  const job = (
    await head.app.inject({ method: 'POST', url: '/v1/jobs', payload: { max_restarts: 3, trainer: { kind: 'logreg', steps: 20 } } })
  ).json();
  await until('spawned', () => a.of(job.id).length === 1);
  const err = new StepInterruptedError({} as never, 3, { cause: new Error('peer lost') });
  t.equal(err.retryable, true, 'an interrupted step says a retry can help');
  a.exit(a.of(job.id)[0].actorId, classify(err, live));
  const again = await until('generation 1 spawned', () => a.of(job.id).find((x) => x.generation === 1));
  const j = (await head.app.inject({ url: `/v1/jobs/${job.id}` })).json();
  t.equal(j.restarts, 1, 'counted as one restart');
  t.not(j.state, 'failed', 'the job did not fail');
  a.exit(again.actorId, { kind: 'succeeded' });
  const done = await until('succeeded', async () => {
    const d = (await head.app.inject({ url: `/v1/jobs/${job.id}` })).json();
    return d.state === 'succeeded' && d;
  });
  t.equal(done.restarts, 1, 'and then succeeded');
});
