/** The logreg checkpoint payload: JSON with the step, parameters and the sampler's RNG seed. */
import { z } from 'zod';
import { FlotillaError } from '../../shared/errors.ts';
import type { SyncStateMeta } from '../engine/sync/index.ts';

export const LOGREG_FORMAT = 'flotilla-logreg/1';

export interface LogregState {
  /** last step applied to `params` */
  step: number;
  /** [w..., b] */
  params: Float32Array;
  /** seed of the counter-based batch sampler (its counter is the step) */
  samplerSeed: number;
  /** the sync strategy's state in the local modes (engine/sync: anchor, outer momentum, schedule) */
  sync?: { meta: SyncStateMeta; anchor: Float32Array; velocity: Float32Array };
}

const SyncWire = z.object({
  meta: z.object({
    format: z.string(),
    mode: z.string(),
    fragments: z.number().int().positive(),
    outerSteps: z.array(z.number().int()),
    lastSent: z.array(z.number().int()),
  }),
  anchor: z.array(z.number()),
  velocity: z.array(z.number()),
});

const Wire = z.object({
  format: z.literal(LOGREG_FORMAT),
  step: z.number().int().nonnegative(),
  params: z.array(z.number()),
  samplerSeed: z.number().int().nonnegative(),
  sync: SyncWire.optional(),
});

export function encodeLogregState(s: LogregState): Uint8Array {
  // float32 -> float64 -> JSON -> float32 is exact, so a resumed run sees the same bits.
  const sync = s.sync && { meta: s.sync.meta, anchor: Array.from(s.sync.anchor), velocity: Array.from(s.sync.velocity) };
  return new TextEncoder().encode(
    JSON.stringify({
      format: LOGREG_FORMAT,
      step: s.step,
      params: Array.from(s.params),
      samplerSeed: s.samplerSeed,
      ...(sync ? { sync } : {}),
    }),
  );
}

export function decodeLogregState(data: Uint8Array): LogregState {
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder().decode(data));
  } catch {
    throw new FlotillaError('FLO_CHECKPOINT_CORRUPT', 'logreg checkpoint is not JSON');
  }
  const r = Wire.safeParse(raw);
  if (!r.success)
    throw new FlotillaError(
      'FLO_CHECKPOINT_CORRUPT',
      `logreg checkpoint: ${r.error.issues.map((i) => i.path.join('.') + ' ' + i.message).join('; ')}`,
    );
  const y = r.data.sync;
  return {
    step: r.data.step,
    params: Float32Array.from(r.data.params),
    samplerSeed: r.data.samplerSeed,
    ...(y ? { sync: { meta: y.meta, anchor: Float32Array.from(y.anchor), velocity: Float32Array.from(y.velocity) } } : {}),
  };
}
