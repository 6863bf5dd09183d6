/** JSON on the wire, validated by the message's one schema on the way in. */
import type { z } from 'zod';
import { FlotillaError } from './errors.ts';

const enc = new TextEncoder();
const dec = new TextDecoder();

export function encode<T>(value: T): Uint8Array {
  return enc.encode(JSON.stringify(value));
}

/** Parses and validates; throws FLO_VALIDATION naming the fields at fault. */
export function decode<S extends z.ZodType>(schema: S, data: Uint8Array): z.infer<S> {
  let raw: unknown;
  try {
    raw = JSON.parse(dec.decode(data));
  } catch {
    throw new FlotillaError('FLO_VALIDATION', 'message is not valid JSON');
  }
  return validate(schema, raw);
}

export function validate<S extends z.ZodType>(schema: S, raw: unknown): z.infer<S> {
  const r = schema.safeParse(raw);
  if (!r.success) {
    const fields = r.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
    throw new FlotillaError('FLO_VALIDATION', `invalid message: ${fields.map((f) => `${f.path || '(root)'}: ${f.message}`).join('; ')}`, {
      details: fields,
    });
  }
  return r.data;
}
