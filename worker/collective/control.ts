/**
 * Control messages of a group (small JSON on <base>.c.<kind>): the join handshake and the
 * liveness probe that names the ranks a timed-out operation did not hear from.
 */
import { z } from 'zod';

export const Hello = z.object({
  generation: z.number().int().nonnegative(),
  rank: z.number().int().nonnegative(),
  worldSize: z.number().int().positive(),
  /** this rank has heard every other rank */
  ready: z.boolean(),
  /** the smallest max_payload of this rank's data connections */
  maxPayload: z.number().int().positive(),
  lanes: z.number().int().positive(),
});
export type Hello = z.infer<typeof Hello>;

export const Ping = z.object({
  generation: z.number().int().nonnegative(),
  from: z.number().int().nonnegative(),
  nonce: z.string(),
});
export type Ping = z.infer<typeof Ping>;

export const Pong = z.object({
  generation: z.number().int().nonnegative(),
  from: z.number().int().nonnegative(),
  to: z.number().int().nonnegative(),
  nonce: z.string(),
});
export type Pong = z.infer<typeof Pong>;
