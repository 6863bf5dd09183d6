/** Submit-time checks: dataset/model paths under the configured roots, and jobs that can never be placed. */
import t from 'tap';
import { headFixture } from '../head/helpers/head.ts';
import { LocalProvider } from '../../head/autoscaler/provider-local.ts';

const yolo = (extra: Record<string, unknown>) => ({ workers: 1, trainer: { kind: 'yolov5', img: 64, epochs: 1, ...extra } });

t.test('trainer.data / trainer.cfg outside the roots are a 400 naming the field, and nothing is stored', async (t) => {
  const { head } = await headFixture(t, { paths: { datasets: '/srv/data', models: '/srv/models' } });
  const post = (payload: object) => head.app.inject({ method: 'POST', url: '/v1/jobs', payload });
  for (const data of ['../../etc/passwd', '/etc/hostname', '/srv/data/../../etc/passwd', '/srv/data']) {
    const r = await post(yolo({ data }));
    t.equal(r.statusCode, 400, `data ${data}: 400`);
    t.match(r.json().error, { code: 'FLO_VALIDATION', details: [{ field: 'body.trainer.data' }] });
  }
  const cfg = await post(yolo({ cfg: '/etc/passwd' }));
  t.match(cfg.json().error, { code: 'FLO_VALIDATION', details: [{ field: 'body.trainer.cfg' }] }, 'cfg outside the model root');
  t.equal(head.ctl.jobs.list().length, 0, 'no job was stored');
  t.equal((await post(yolo({ data: 'synthetic', cfg: 'yolov5s.yaml' }))).statusCode, 201, 'built-in names pass');
  t.equal(
    (await post(yolo({ data: '/srv/data/pets/data.yaml', cfg: '/srv/models/mine.yaml' }))).statusCode,
    201,
    'paths under the roots pass',
  );
});

t.test('more ranks than the autoscaler can ever provide: pending with an explicit unschedulable reason', async (t) => {
  const { head } = await headFixture(t, {
    autoscaler: {
      provider: new LocalProvider({ natsUrl: 'nats://127.0.0.1:1', prefix: 'x', slots: 2 }),
      maxWorkers: 2,
      slotsPerWorker: 2,
      minWorkers: 0,
      intervalMs: 60_000,
    },
  });
  const r = await head.app.inject({ method: 'POST', url: '/v1/jobs', payload: { workers: 5, trainer: { kind: 'logreg', steps: 5 } } });
  t.equal(r.statusCode, 201, 'accepted: it may be scaled down');
  t.match(r.json(), { state: 'pending', message: /^unschedulable: 5 rank\(s\) can never be placed, the pool holds at most 4/ });
  t.match(
    (await head.app.inject({ method: 'POST', url: '/v1/jobs', payload: { workers: 4, trainer: { kind: 'logreg', steps: 5 } } })).json(),
    { message: 'waiting for a placement' },
    '4 fit',
  );
});
