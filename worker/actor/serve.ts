/**
 * A request/reply endpoint that never dies of a bad request: every message is handled by
 * `handle` (which validates with a shared schema), and whatever it throws goes back as a
 * ControlReply `{ ok: false, error }` (FLO_VALIDATION names the fields at fault).
 */
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import type { Logger } from '../../shared/logger.ts';
import { encode } from '../../shared/codec.ts';
import { toWire } from '../../shared/errors.ts';
import type { ControlReply } from '../../shared/schemas/index.ts';

export type RequestHandler = (data: Uint8Array, msg: Msg) => Promise<unknown> | unknown;

export function replyTo(msg: Msg, reply: ControlReply): void {
  if (msg.reply) msg.respond(encode(reply));
}

/** Subscribes `subject`; each request is answered with the handler's result or its error. */
export function serveRequests(nc: NatsConnection, subject: string, handle: RequestHandler, log: Logger): Subscription {
  return nc.subscribe(subject, {
    callback: (err, msg) => {
      if (err) { log.warn({ err, subject }, 'subscription error'); return; }
      Promise.resolve()
        .then(() => handle(msg.data, msg))
        .then(
          (result) => replyTo(msg, result === undefined ? { ok: true } : { ok: true, result }),
          (e: unknown) => {
            const error = toWire(e);
            if (error.code === 'FLO_INTERNAL') log.error({ err: e, subject }, 'request handler failed');
            else log.warn({ code: error.code, msg: error.message, subject }, 'request refused');
            replyTo(msg, { ok: false, error });
          },
        )
        .catch((e: unknown) => log.error({ err: e, subject }, 'cannot reply'));
    },
  });
}
