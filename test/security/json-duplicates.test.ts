/** Duplicate JSON keys in a REST body are a 400 naming the key; prototype poisoning stays refused; normal bodies pass. */
import t from 'tap';
import { headFixture } from '../head/helpers/head.ts';
import { duplicateKey } from '../../head/api/json-body.ts';

t.test('duplicate keys at any depth are refused, naming the path; nothing is stored', async (t) => {
  const { head } = await headFixture(t);
  const post = (payload: string, url = '/v1/jobs', method: 'POST' | 'PATCH' = 'POST') =>
    head.app.inject({ method, url, headers: { 'content-type': 'application/json' }, payload });
  const cases: Array<[string, string, string]> = [
    ['top level', '{"workers":1,"workers":2,"trainer":{"kind":"logreg"}}', 'body.workers'],
    ['nested', '{"trainer":{"kind":"logreg","steps":5,"kind":"yolov5"}}', 'body.trainer.kind'],
    [
      'inside an array element',
      '{"trainer":{"kind":"logreg"},"faults":[{"kind":"kill"},{"kind":"kill","kind":"stall"}]}',
      'body.faults.1.kind',
    ],
    ['an escaped spelling of the same key', '{"trainer":{"kind":"logreg","\\u006bind":"yolov5"}}', 'body.trainer.kind'],
  ];
  for (const [what, body, field] of cases) {
    const r = await post(body);
    t.equal(r.statusCode, 400, `${what}: 400`);
    const e = r.json().error;
    t.equal(e.code, 'FLO_VALIDATION', `${what}: FLO_VALIDATION`);
    t.match(e.message, field, `${what}: message names ${field}`);
    t.same(e.details, [{ field, message: 'duplicate key' }], `${what}: details name ${field}`);
  }
  t.equal(head.ctl.jobs.list().length, 0, 'no job was stored');

  const poison = await post('{"trainer":{"kind":"logreg"},"__proto__":{"admin":true}}');
  t.equal(poison.statusCode, 400, "__proto__ keys are still refused (fastify's prototype-poisoning check)");
  t.equal(poison.json().error.code, 'FLO_VALIDATION');
  const ctor = await post('{"trainer":{"kind":"logreg"},"constructor":{"prototype":{"x":1}}}');
  t.equal(ctor.statusCode, 400, 'constructor.prototype is refused too');

  t.equal(
    duplicateKey('{"a":{"kind":1},"b":{"kind":2},"c":[{"kind":1},{"kind":2}],"kind":0}'),
    undefined,
    'the same name in different objects is no duplicate',
  );
  t.equal(duplicateKey('[1,{"x":{"y":[{"z":1,"z":2}]}}]'), '1.x.y.0.z', 'paths through arrays and objects');
  const ok = await post('{"workers":1,"trainer":{"kind":"logreg","steps":5}}');
  t.equal(ok.statusCode, 201, 'a normal body passes');
  const id = ok.json().id as string;
  const patch = await post('{"workers":1,"workers":2}', `/v1/jobs/${id}`, 'PATCH');
  t.equal(patch.statusCode, 400, 'PATCH bodies are checked too');
  t.match(patch.json().error.message, 'body.workers');
  const broken = await post('{"workers": ');
  t.equal(broken.statusCode, 400, 'broken JSON is still a 400');
});
