// The job spec's `weights:`: a path, or dataset://NAME/FILE naming a file inside a pushed dataset.
import t from 'tap';
import { JobSpec } from '../../shared/schemas/index.ts';
import { datasetFileRef } from '../../shared/dataset-ref.ts';

const spec = (weights: unknown) => JobSpec.safeParse({ trainer: { kind: 'yolov5', weights } });

t.test('weights: accepted forms', async (t) => {
  t.ok(spec('yolov5n.pt').success, 'a path');
  t.ok(spec('dataset://coco128/weights/yolov5n.pt').success, 'a file in a pushed dataset');
  t.same(datasetFileRef('dataset://coco128/weights/yolov5n.pt'), { name: 'coco128', file: 'weights/yolov5n.pt' });
  t.equal(datasetFileRef('runs/best.ckpt'), null, 'a path is not a reference');
});

t.test('weights: refused with the field named', async (t) => {
  for (const bad of [
    'dataset://coco128',
    'dataset://coco128/../../etc/passwd',
    'dataset://coco128//x.pt',
    'dataset://-bad/x.pt',
    '',
    'x'.repeat(5000),
    12,
  ]) {
    const r = spec(bad);
    t.notOk(r.success, `refused: ${String(bad).slice(0, 40)}`);
    if (!r.success)
      t.ok(
        r.error.issues.some((i) => i.path.join('.') === 'trainer.weights'),
        'names trainer.weights',
      );
  }
});
