/**
 * The request/reply primitive (shared/endpoint.ts) against a real nats-server: a typed reply,
 * a bad request answered FLO_VALIDATION naming the field, a handler's FlotillaError arriving
 * at the caller with its code, no reply as NoReply, an answer given later, and the wire form
 * (a ControlReply) unchanged.
 */
import t from 'tap';
import { connect } from '@nats-io/transport-node';
import { z } from 'zod';
import { startNatsServer } from '../kit/nats-server.ts';
import { call, endpoint, NoReply, respond, serve } from '../../shared/endpoint.ts';
import { FlotillaError } from '../../shared/errors.ts';
import { encode } from '../../shared/codec.ts';

const Add = endpoint({
  name: 'add',
  request: z.object({ a: z.number(), b: z.object({ n: z.number().int() }) }),
  reply: z.object({ sum: z.number() }),
});
const Op = endpoint({
  name: 'op',
  request: z.discriminatedUnion('op', [z.object({ op: z.literal('one') }), z.object({ op: z.literal('two') })]),
  reply: z.union([z.object({ one: z.literal(1) }), z.object({ two: z.literal(2) })]),
  replyOf: (r) => (r.op === 'one' ? z.object({ one: z.literal(1) }) : z.object({ two: z.literal(2) })),
});

t.test('serve and call over a real server', async (t) => {
  const srv = await startNatsServer({ auth: false, jetstream: false });
  t.teardown(() => srv.stop());
  const nc = await connect({ servers: srv.url });
  t.teardown(() => nc.close());

  const sub = serve(nc, Add, 'ep.add', (req) => {
    if (req.a < 0) throw new FlotillaError('FLO_NO_CAPACITY', 'negative a');
    if (req.a === 13) throw new Error('unlucky');
    return { sum: req.a + req.b.n };
  });
  t.teardown(() => sub.unsubscribe());

  const r = await call(nc, Add, 'ep.add', { a: 2, b: { n: 3 } }, { timeoutMs: 5000 });
  t.same(r, { sum: 5 }, 'typed reply');

  const raw = JSON.parse((await nc.request('ep.add', encode({ a: 2, b: { n: 3 } }), { timeout: 5000 })).string());
  t.same(raw, { ok: true, result: { sum: 5 } }, 'the wire form is a ControlReply');

  const bad = await call(nc, Add, 'ep.add', { a: 1, b: { n: 1.5 } }, { timeoutMs: 5000 }).catch((e: unknown) => e);
  t.ok(bad instanceof FlotillaError, 'a bad request throws a FlotillaError');
  t.equal((bad as FlotillaError).code, 'FLO_VALIDATION');
  t.match((bad as FlotillaError).message, /b\.n/, 'the message names the field');
  t.match((bad as FlotillaError).details, [{ path: 'b.n' }], 'details carry the field path');

  const notJson = JSON.parse((await nc.request('ep.add', new TextEncoder().encode('{'), { timeout: 5000 })).string());
  t.match(notJson, { ok: false, error: { code: 'FLO_VALIDATION' } }, 'a body that is not JSON is refused, the server lives on');

  const refused = await call(nc, Add, 'ep.add', { a: -1, b: { n: 1 } }, { timeoutMs: 5000 }).catch((e: unknown) => e);
  t.match(refused, { code: 'FLO_NO_CAPACITY', message: 'negative a', retryable: true }, "the handler's code reaches the caller");

  const crashed = await call(nc, Add, 'ep.add', { a: 13, b: { n: 1 } }, { timeoutMs: 5000 }).catch((e: unknown) => e);
  t.match(crashed, { code: 'FLO_INTERNAL', message: 'unlucky' }, 'a plain Error becomes FLO_INTERNAL');

  const none = await call(nc, Add, 'ep.nobody', { a: 1, b: { n: 1 } }, { timeoutMs: 2000 }).catch((e: unknown) => e);
  t.ok(none instanceof NoReply, 'nobody listening: NoReply');
  t.equal((none as NoReply).code, 'FLO_UNAVAILABLE');
  t.match((none as NoReply).message, /add: nobody answers on ep\.nobody/);

  // a server that holds the request and never answers: a timeout
  const held = serve(nc, Add, 'ep.held', (_req, ctx) => ctx.later());
  t.teardown(() => held.unsubscribe());
  const late = await call(nc, Add, 'ep.held', { a: 1, b: { n: 1 } }, { timeoutMs: 300 }).catch((e: unknown) => e);
  t.ok(late instanceof NoReply, 'no reply in time: NoReply');
  t.match(late, { code: 'FLO_TIMEOUT', retryable: true });
  t.match((late as NoReply).message, /add: no reply on ep\.held within 300 ms/);

  // answered later by hand
  const later = serve(nc, Add, 'ep.later', (req, ctx) => {
    setTimeout(() => respond(ctx.msg, { ok: true, result: { sum: req.a * 10 } }), 50);
    return ctx.later();
  });
  t.teardown(() => later.unsubscribe());
  t.same(await call(nc, Add, 'ep.later', { a: 4, b: { n: 0 } }, { timeoutMs: 5000 }), { sum: 40 }, 'a deferred answer');

  // a reply that is not what the endpoint answers
  const liar = nc.subscribe('ep.liar', {
    callback: (_e, m) => {
      m.respond(encode({ ok: true, result: { sum: 'five' } }));
    },
  });
  t.teardown(() => liar.unsubscribe());
  const wrong = await call(nc, Add, 'ep.liar', { a: 1, b: { n: 1 } }, { timeoutMs: 5000 }).catch((e: unknown) => e);
  t.match(wrong, { code: 'FLO_VALIDATION', message: /add: the reply on ep\.liar is not what the endpoint answers: .*sum/ });

  // one subject, several operations, each with its own reply
  const ops = serve(nc, Op, 'ep.op', (req) => (req.op === 'one' ? { one: 1 as const } : { two: 2 as const }));
  t.teardown(() => ops.unsubscribe());
  t.same(await call(nc, Op, 'ep.op', { op: 'two' }, { timeoutMs: 5000 }), { two: 2 });
  const mixed = nc.subscribe('ep.mixed', {
    callback: (_e, m) => {
      m.respond(encode({ ok: true, result: { one: 1 } }));
    },
  });
  t.teardown(() => mixed.unsubscribe());
  t.match(
    await call(nc, Op, 'ep.mixed', { op: 'two' }, { timeoutMs: 5000 }).catch((e: unknown) => e),
    { code: 'FLO_VALIDATION' },
    "the reply is checked against its op's schema",
  );
});
