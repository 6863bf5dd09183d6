/** Trainer traits are data per trainer kind; the head's rules read them instead of testing `kind`. */
import t from 'tap';
import { TRAINER_TRAITS, traitsOf } from '../../shared/trainer-traits.ts';
import { JobSpec, TrainerSpec } from '../../shared/schemas/job.ts';
import { isElastic, successRefusal } from '../../head/state/transitions.ts';
import type { HeadJob } from '../../head/state/job-store.ts';

const job = (trainer: unknown, extra: object = {}): HeadJob =>
  ({
    id: 'j1',
    spec: JobSpec.parse({ workers: 3, min_workers: 2, recovery: 'live', trainer, ...extra }),
    state: 'running',
    generation: 0,
    restarts: 0,
    step: 0,
    checkpoint_step: null,
    placement: [],
    metrics: {},
    created_at: '',
    updated_at: '',
    seq: 0,
    finished: [],
  }) as HeadJob;

t.test('every trainer kind declares its traits', async (t) => {
  const kinds = TrainerSpec.options.map((o) => o.shape.kind.value).sort();
  t.same(Object.keys(TRAINER_TRAITS).sort(), kinds);
});

t.test('logreg: elastic, its final step is `steps`, grows only before the last tenth', async (t) => {
  const spec = TrainerSpec.parse({ kind: 'logreg', steps: 50 });
  t.equal(traitsOf(spec).elastic, true);
  t.equal(traitsOf(spec).finalStep(spec), 50);
  t.equal(traitsOf(spec).growsBefore(spec), 45);
  t.equal(isElastic(job({ kind: 'logreg', steps: 50 })), true);
  t.match(successRefusal(job({ kind: 'logreg', steps: 50 }), 0, 40), /not the final step 50/);
  t.equal(successRefusal(job({ kind: 'logreg', steps: 50 }), 0, 50), null);
});

t.test('yolov5: not elastic, no final step fixed by the spec', async (t) => {
  const spec = TrainerSpec.parse({ kind: 'yolov5' });
  t.equal(traitsOf(spec).elastic, false);
  t.equal(traitsOf(spec).finalStep(spec), undefined);
  t.equal(isElastic(job({ kind: 'yolov5' })), false);
  t.equal(successRefusal(job({ kind: 'yolov5' }), 0, 40), null, 'any agreed step ahead of the job');
});
