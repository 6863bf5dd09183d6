import { z } from 'zod';
import { MAX_TEXT } from './bounds.ts';
import { ERROR_CODES } from '../errors.ts';

/** Ids are NATS-token-safe (no dots, spaces or wildcards). */
export const Id = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'use 1-64 of [A-Za-z0-9_-]');
export const WireErrorSchema = z.object({
  code: z.enum(ERROR_CODES as [string, ...string[]]),
  message: z.string().max(MAX_TEXT),
  details: z.unknown().optional(),
});
/**
 * The envelope of every reply on the wire: ok with an optional payload, or an error as data. The
 * payload is typed per endpoint (shared/endpoint.ts `replySchema`, checked by `call()`); this
 * untyped form is for code that looks at the raw wire (tests, benchmarks).
 */
export const ControlReply = z.discriminatedUnion('ok', [
  z.object({ ok: z.literal(true), result: z.unknown().optional() }),
  z.object({ ok: z.literal(false), error: WireErrorSchema }),
]);
export type ControlReply = z.infer<typeof ControlReply>;
