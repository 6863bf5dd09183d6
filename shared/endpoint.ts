/**
 * One typed request/reply primitive over NATS. An endpoint names a request schema and a reply
 * schema (both in shared/schemas); `serve()` and `call()` are typed from them.
 *
 * Wire format (unchanged from the hand-written replies it replaces): the request is the JSON of
 * the request message; the reply is a ControlReply, `{ ok: true, result? }` or
 * `{ ok: false, error: { code, message, details? } }`, the error carrying the catalogue's code
 * (shared/errors.ts).
 *
 * - serve: decodes and validates each request (a bad one is answered FLO_VALIDATION naming the
 *   fields at fault), runs the handler, and answers its result, or whatever it threw as a wire
 *   error (a non-Flotilla error becomes FLO_INTERNAL). A handler may answer later, or never
 *   (`return ctx.later()`), for requests that wait on something else.
 * - call: sends, waits, validates the result against the reply schema and returns it; an error
 *   reply is thrown as a FlotillaError with the code it carried; no reply is thrown as NoReply
 *   (FLO_TIMEOUT after `timeoutMs`, FLO_UNAVAILABLE when nobody listens), its cause the NATS error.
 */
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import { z } from 'zod';
import { decode, encode, validate } from './codec.ts';
import { FlotillaError, fromWire, toWire, type WireError } from './errors.ts';
import { WireErrorSchema } from './schemas/common.ts';
import type { Logger } from './logger.ts';

export interface Endpoint<Req extends z.ZodType = z.ZodType, Rep extends z.ZodType = z.ZodType> {
  /** what the request does, for errors and logs ("node register") */
  readonly name: string;
  readonly request: Req;
  /** the result of an ok reply (`z.void()`: none) */
  readonly reply: Rep;
  /**
   * the reply schema of one request, where one subject serves several operations and each has its
   * own result (the default is `reply`, which must then accept every one of them)
   */
  readonly replyOf?: (req: z.infer<Req>) => z.ZodType;
}

export function endpoint<Req extends z.ZodType, Rep extends z.ZodType>(e: Endpoint<Req, Rep>): Endpoint<Req, Rep> {
  return e;
}

export type RequestOf<E extends Endpoint> = z.infer<E['request']>;
/** what a caller may send (schema defaults may be left out) */
export type RequestInput<E extends Endpoint> = z.input<E['request']>;
export type ReplyOf<E extends Endpoint> = z.infer<E['reply']>;

/** The ControlReply of an endpoint, its result typed. */
export function replySchema<Rep extends z.ZodType>(result: Rep) {
  return z.discriminatedUnion('ok', [
    z.object({ ok: z.literal(true), result: result.optional() }),
    z.object({ ok: z.literal(false), error: WireErrorSchema }),
  ]);
}

const AnyReply = replySchema(z.unknown());

/** No reply came (the request may or may not have been carried out). */
export class NoReply extends FlotillaError {
  override name = 'NoReply';
}

export interface CallOptions {
  timeoutMs: number;
}

/** Sends `req` on `subject` and returns the validated result of the reply (see above). */
export async function call<E extends Endpoint>(
  nc: NatsConnection,
  ep: E,
  subject: string,
  req: RequestInput<E>,
  opts: CallOptions,
): Promise<ReplyOf<E>> {
  let m: Msg;
  try {
    m = await nc.request(subject, encode(req), { timeout: opts.timeoutMs });
  } catch (e) {
    const none = isNoResponders(e);
    throw new NoReply(
      none ? 'FLO_UNAVAILABLE' : 'FLO_TIMEOUT',
      none
        ? `${ep.name}: nobody answers on ${subject}`
        : `${ep.name}: no reply on ${subject} within ${opts.timeoutMs} ms (${(e as Error).message})`,
      { cause: e },
    );
  }
  const r = decode(AnyReply, m.data);
  if (!r.ok) throw fromWire(r.error);
  const schema = ep.replyOf ? ep.replyOf(req as RequestOf<E>) : ep.reply;
  try {
    return validate(schema, r.result) as ReplyOf<E>;
  } catch (e) {
    const f = e as FlotillaError;
    throw new FlotillaError('FLO_VALIDATION', `${ep.name}: the reply on ${subject} is not what the endpoint answers: ${f.message}`, {
      details: f.details,
      cause: e,
    });
  }
}

function isNoResponders(e: unknown): boolean {
  const x = e as { isNoResponders?: () => boolean } | null;
  return typeof x?.isNoResponders === 'function' && x.isNoResponders();
}

/** Answers one request; safe to call on a message without a reply subject (a publish). */
export function respond(msg: Msg, r: { ok: true; result?: unknown } | { ok: false; error: WireError }): void {
  if (msg.reply) msg.respond(encode(r.ok && r.result === undefined ? { ok: true } : r));
}

export function respondError(msg: Msg, e: unknown): void {
  respond(msg, { ok: false, error: toWire(e) });
}

/** What a handler returns when it answers later with `respond()` (or never: another server answers). */
export const LATER: unique symbol = Symbol('answered later');
export type Later = typeof LATER;

export interface ServeContext {
  msg: Msg;
  /** returns LATER: `return later()` leaves the request to be answered later with `respond()`/`respondError()` */
  later(): Later;
}

export type Handler<E extends Endpoint> = (req: RequestOf<E>, ctx: ServeContext) => Promise<ReplyOf<E> | Later> | ReplyOf<E> | Later;

export interface ServeOptions {
  log?: Logger;
}

/** Subscribes `subject` (wildcards allowed); each request is handled as described above. */
export function serve<E extends Endpoint>(
  nc: NatsConnection,
  ep: E,
  subject: string,
  handler: Handler<E>,
  opts: ServeOptions = {},
): Subscription {
  const log = opts.log;
  return nc.subscribe(subject, {
    callback: (err, msg) => {
      if (err) {
        log?.warn({ err, subject }, 'subscription error');
        return;
      }
      const ctx: ServeContext = { msg, later: () => LATER };
      Promise.resolve()
        .then(() => handler(decode(ep.request, msg.data) as RequestOf<E>, ctx))
        .then(
          (result) => {
            if (result !== LATER) respond(msg, { ok: true, result });
          },
          (e: unknown) => {
            const error = toWire(e);
            if (error.code === 'FLO_INTERNAL') log?.error({ err: e, subject, endpoint: ep.name }, 'request handler failed');
            else log?.warn({ code: error.code, msg: error.message, subject, endpoint: ep.name }, 'request refused');
            respond(msg, { ok: false, error });
          },
        )
        .catch((e: unknown) => log?.error({ err: e, subject }, 'cannot reply'));
    },
  });
}
