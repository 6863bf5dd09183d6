/**
 * A job's size is checked before it is written, and a failed write keeps its true error. A
 * yolov5 `data` of 1 MB (a body of ~1,048,400 bytes, under the 1 MiB body limit) used to be a
 * 201 (then a KV record of 1 MB) or, just past NATS's max_payload, a false 409 "job … exists":
 * now every spec string has a bound (a 400 naming the field), the record a size budget (a 400
 * naming its biggest field), and only a real revision conflict is a 409.
 */
import t from 'tap';
import { connect } from '@nats-io/transport-node';
import { Kvm } from '@nats-io/kv';
import { headFixture } from './helpers/head.ts';
import { startNatsServer, uniquePrefix } from '../kit/nats-server.ts';
import { JobStore, type HeadJob } from '../../head/state/job-store.ts';
import { FlotillaError } from '../../shared/errors.ts';
import { MAX_NAME, MAX_PATH } from '../../shared/schemas/bounds.ts';

t.test('REST: an over-long field is a 400 naming it, never a 409', async (t) => {
  const { head } = await headFixture(t);
  const post = (payload: object) => head.app.inject({ method: 'POST', url: '/v1/jobs', payload });
  const yolo = (extra: object) => ({ workers: 1, trainer: { kind: 'yolov5', epochs: 1, ...extra } });
  const huge = yolo({ data: 'd'.repeat(1_048_300) });
  const bodyBytes = Buffer.byteLength(JSON.stringify(huge));
  t.ok(bodyBytes > 1_048_000 && bodyBytes < 1 << 20, `the body is ${bodyBytes} bytes: under the 1 MiB body limit`);
  const r = await post(huge);
  t.equal(r.statusCode, 400, `a 1 MB data path: 400, not 409 or 201 (got ${r.statusCode} ${r.json().error?.code ?? ''})`);
  t.equal(r.json().error.code, 'FLO_VALIDATION');
  t.ok(
    r.json().error.details.some((d: { field: string }) => d.field === 'body.trainer.data'),
    'naming body.trainer.data',
  );
  const cases: Array<[string, object, string]> = [
    ['a data path over 4 KiB', yolo({ data: 'd'.repeat(MAX_PATH + 1) }), 'body.trainer.data'],
    ['a cfg path over 4 KiB', yolo({ cfg: 'c'.repeat(MAX_PATH + 1) }), 'body.trainer.cfg'],
    ['a resume path over 4 KiB', yolo({ resume: 'r'.repeat(MAX_PATH + 1) }), 'body.trainer.resume'],
    ['a name over 128', { name: 'n'.repeat(129), trainer: { kind: 'logreg' } }, 'body.name'],
    ['a hyperparameter name over 128', yolo({ hyp: { ['h'.repeat(MAX_NAME + 1)]: 1 } }), 'body.trainer.hyp'],
    ['300 hyperparameters', yolo({ hyp: Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`h${i}`, 1])) }), 'body.trainer.hyp'],
  ];
  for (const [what, body, field] of cases) {
    const res = await post(body);
    t.equal(res.statusCode, 400, `${what}: 400`);
    t.match(res.json().error.message, field, `${what}: names ${field} (${res.json().error.message.slice(0, 120)})`);
  }
  const ok = await post(yolo({ data: `sets/${'d'.repeat(MAX_PATH - 10)}` }));
  t.equal(ok.statusCode, 201, 'a path just under the bound is taken');
  t.equal(head.ctl.jobs.get(ok.json().id)?.spec.trainer.kind, 'yolov5');
});

function record(id: string, extra: Partial<HeadJob> = {}): HeadJob {
  const now = new Date().toISOString();
  return {
    id,
    spec: {
      workers: 1,
      priority: 0,
      max_restarts: 3,
      checkpoint_every: 10,
      trainer: { kind: 'logreg', steps: 5, batch: 64, features: 16, lr: 0.5, seed: 1, step_delay_ms: 0 },
      allreduce: { algorithm: 'auto', fp16: false, timeout_ms: 30_000 },
      recovery: 'live',
      faults: [],
    },
    state: 'pending',
    generation: 0,
    restarts: 0,
    step: 0,
    checkpoint_step: null,
    placement: [],
    metrics: {},
    created_at: now,
    updated_at: now,
    seq: 1,
    finished: [],
    ...extra,
  } as HeadJob;
}

t.test('JobStore: the size budget names the biggest field; a KV failure keeps its true error; only a conflict is 409', async (t) => {
  // a server that carries at most 64 KiB per message, as a small max_payload would
  const srv = await startNatsServer({ maxPayload: 64 * 1024 });
  t.teardown(() => srv.stop());
  const nc = await connect(srv.options());
  t.teardown(() => nc.close());
  const kv = await new Kvm(nc).create(uniquePrefix('jobs'), { history: 1 });
  // 1024 ranks with 64-character ids: ~150 kB of placement, every field within its schema bound
  const placement = Array.from({ length: 1024 }, (_, rank) => ({
    rank,
    nodeId: `n${'x'.repeat(62)}${rank % 10}`,
    actorId: `a${'y'.repeat(63)}`,
  }));

  const small = new JobStore(kv, {}, { maxBytes: 32 * 1024 });
  const over = await small.create(record('j1', { placement })).catch((e: unknown) => e);
  t.ok(over instanceof FlotillaError && over.code === 'FLO_VALIDATION', `over the budget: FLO_VALIDATION (${(over as Error).message})`);
  t.match((over as FlotillaError).message, /record\.placement/, 'naming the biggest field');
  t.notOk(await kv.get('j1'), 'and nothing was written');

  const unbudgeted = new JobStore(kv, {}, { maxBytes: Number.POSITIVE_INFINITY });
  const failed = await unbudgeted.create(record('j2', { placement })).catch((e: unknown) => e);
  t.ok(failed instanceof FlotillaError, "a record past the server's max_payload fails");
  t.not(
    (failed as FlotillaError).code,
    'FLO_CONFLICT',
    `not as a conflict: ${(failed as FlotillaError).code} ${(failed as Error).message}`,
  );
  t.match((failed as Error).message, /max_payload|maximum|size/i, "with NATS's own reason");
  t.notOk(await kv.get('j2'), 'no job j2 exists');

  const store = new JobStore(kv);
  await store.create(record('j3'));
  const dup = await store.create(record('j3')).catch((e: unknown) => e);
  t.ok(dup instanceof FlotillaError && dup.code === 'FLO_CONFLICT', `a real duplicate is FLO_CONFLICT (${(dup as Error).message})`);
  const grown = await small.update('j3', (j) => ({ ...j, placement })).catch((e: unknown) => e);
  t.ok(
    grown instanceof FlotillaError && grown.code === 'FLO_VALIDATION',
    `an update past the budget is refused before the write, not retried as a conflict (${(grown as Error).message.slice(0, 100)})`,
  );
  const long = await store.update('j3', (j) => ({ ...j, message: 'm'.repeat(100_000) }));
  t.ok((long.message?.length ?? 0) <= 16_384, `a long message is clipped to its bound (${long.message?.length})`);
});
