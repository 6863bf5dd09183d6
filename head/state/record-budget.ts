/**
 * The size budget of a job's KV record. NATS refuses a message over the server's max_payload
 * (1 MiB by default; 8 MB in deploy/nats), and a record is rewritten at every state change, so
 * it is kept well below: JOB_RECORD_MAX_BYTES of JSON. Every field of a JobSpec is bounded by
 * its schema (shared/schemas/bounds.ts), so a spec alone stays far below it; the budget is the
 * check of the record as a whole (spec, placement, metrics, message, faults), made before each
 * write with a 400 FLO_VALIDATION naming the biggest field instead of a failed write.
 */
import { FlotillaError } from '../../shared/errors.ts';

/** The most bytes of JSON a job record may take in KV. */
export const JOB_RECORD_MAX_BYTES = 512 * 1024;

const bytes = (v: unknown): number => Buffer.byteLength(JSON.stringify(v) ?? '');

/** The path of the biggest field (descending into the biggest member of each object) and its size in bytes. */
export function biggestField(v: unknown, path: string[] = []): { path: string[]; bytes: number } {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return { path, bytes: bytes(v) };
  let best: { key: string; bytes: number } | null = null;
  for (const [k, x] of Object.entries(v)) {
    const b = bytes(x);
    if (!best || b > best.bytes) best = { key: k, bytes: b };
  }
  return best ? biggestField((v as Record<string, unknown>)[best.key], [...path, best.key]) : { path, bytes: bytes(v) };
}

/**
 * Throws 400 FLO_VALIDATION when `encoded` (the record's JSON) is over `maxBytes`, naming the
 * biggest field: a spec field as the REST body's (`body.trainer.data`), others as `record.<path>`.
 */
export function assertRecordBudget(record: unknown, encoded: Uint8Array, maxBytes = JOB_RECORD_MAX_BYTES): void {
  if (encoded.length <= maxBytes) return;
  const big = biggestField(record);
  const field = big.path[0] === 'spec' ? ['body', ...big.path.slice(1)].join('.') : ['record', ...big.path].join('.');
  const message = `the job record would take ${encoded.length} bytes, over its budget of ${maxBytes}; ${field} takes ${big.bytes} of them: make it smaller`;
  throw new FlotillaError('FLO_VALIDATION', `invalid request: ${field}: ${message}`, { details: [{ field, message }] });
}
