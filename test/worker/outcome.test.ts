import t from 'tap';
import { outcomeOf } from '../../worker/agent/index.ts';
import { classify } from '../../worker/actor/index.ts';
import { BadInputError, EngineError } from '../../worker/engine/errors.ts';
import { NonFiniteGradientError } from '../../worker/engine/train/finite-guard.ts';
import { StepInterruptedError } from '../../worker/engine/train/fit.ts';
import { LabelFormatError } from '../../worker/engine/data/labels.ts';
import { CheckpointFormatError } from '../../worker/engine/checkpoint/format.ts';
import { ModelConfigError } from '../../worker/engine/model/model-yaml.ts';
import { FlotillaError } from '../../shared/errors.ts';

const o = (kind: 'succeeded' | 'retryable' | 'fatal' | 'cancelled', message = '') => ({ kind, message, exitCode: null, signal: null });

t.test('outcomeOf: a reported result stands; a crash or kill is retryable', async (t) => {
  t.match(outcomeOf({ result: o('succeeded', 'done'), code: 0, signal: null }), { kind: 'succeeded', exitCode: 0 });
  t.match(outcomeOf({ result: o('fatal', 'bad data'), code: 3, signal: null }), { kind: 'fatal', message: 'bad data' });
  t.match(outcomeOf({ code: null, signal: 'SIGKILL' }), { kind: 'retryable', signal: 'SIGKILL', exitCode: null });
  t.match(outcomeOf({ code: 1, signal: null }), { kind: 'retryable', exitCode: 1 });
  t.match(outcomeOf({ code: 0, signal: null }), { kind: 'succeeded' }, 'exit code backs up a lost IPC result');
  t.match(outcomeOf({ code: 3, signal: null }), { kind: 'fatal' });
  t.match(outcomeOf({ code: 4, signal: null }), { kind: 'cancelled' });
});

t.test('outcomeOf: why the agent stopped the actor decides a cancellation', async (t) => {
  const head = { intent: 'cancelled' as const, reason: 'job aborted' };
  const leaving = { intent: 'retryable' as const, reason: 'node leaving' };
  t.match(outcomeOf({ result: o('cancelled'), code: 4, signal: null, stop: head }), { kind: 'cancelled' });
  t.match(outcomeOf({ result: o('cancelled'), code: 4, signal: null, stop: leaving }), { kind: 'retryable', message: 'node leaving' });
  t.match(outcomeOf({ code: null, signal: 'SIGKILL', stop: head }), { kind: 'cancelled' }, 'SIGKILL after the grace of a stop');
  t.match(outcomeOf({ code: null, signal: 'SIGKILL', stop: leaving }), { kind: 'retryable' });
  t.match(
    outcomeOf({ result: o('succeeded'), code: 0, signal: null, stop: head }),
    { kind: 'succeeded' },
    'finished before the stop landed',
  );
});

t.test('classify: abort -> cancelled, non-retryable FlotillaError -> fatal, else retryable', async (t) => {
  const live = new AbortController().signal;
  const aborted = AbortSignal.abort('SIGTERM');
  t.match(classify(new Error('boom'), aborted), { kind: 'cancelled', message: 'SIGTERM' });
  t.match(classify(new FlotillaError('FLO_ACTOR_FATAL', 'no such dataset'), live), {
    kind: 'fatal',
    message: /FLO_ACTOR_FATAL: no such dataset/,
  });
  t.match(classify(new FlotillaError('FLO_VALIDATION'), live), { kind: 'fatal' });
  t.match(classify(new FlotillaError('FLO_TIMEOUT'), live), { kind: 'retryable' });
  t.match(classify(new FlotillaError('FLO_CANCELLED'), live), { kind: 'cancelled' });
  t.match(classify(new TypeError('x is undefined'), live), { kind: 'retryable' });
});

t.test("classify: the engine's errors say whether a retry can help", async (t) => {
  const live = new AbortController().signal;
  const nan = new NonFiniteGradientError(5, 12, 'lower the lr');
  t.equal(nan.retryable, false);
  t.match(classify(nan, live), { kind: 'fatal', message: /^FLO_ACTOR_FATAL: / }, 'non-finite gradients fail the job');
  t.match(classify(new LabelFormatError('a.txt', 3, 'bad class'), live), { kind: 'fatal' }, 'a malformed label file fails the job');
  t.match(classify(new CheckpointFormatError('truncated'), live), { kind: 'fatal' });
  t.match(classify(new ModelConfigError('no backbone'), live), { kind: 'fatal' });
  t.match(
    classify(new BadInputError('bad hyp', new Error("unknown key 'lr9'")), live),
    { kind: 'fatal', message: "FLO_ACTOR_FATAL: bad hyp: unknown key 'lr9'" },
    "a trainer's bad input fails the job, named with its cause",
  );
  const lost = new StepInterruptedError({} as never, 3, { cause: new Error('peer lost') });
  t.equal(lost.retryable, true);
  t.match(classify(lost, live), { kind: 'retryable' }, 'an interrupted step is retried');
  t.ok([nan, lost].every((e) => e instanceof EngineError));
});
