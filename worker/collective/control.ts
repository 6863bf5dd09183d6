/**
 * Control messages of a group (small JSON on <base>.c.<kind>): the join handshake and the
 * liveness probe that names the ranks a timed-out operation did not hear from, and the epoch
 * handshake that restarts the operations in flight after a lost data connection (group.ts).
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

/**
 * A rank is in `epoch` (after a lost data connection, see group.ts): its data lanes are open and
 * subscribed, nothing of an older epoch will leave it any more, and `pending` are the operations
 * it has in flight (a rank that already finished one of them sends it again, from its saved input).
 */
export const EpochReady = z.object({
  generation: z.number().int().nonnegative(),
  rank: z.number().int().nonnegative(),
  epoch: z.number().int().positive(),
  /** this rank has heard every other rank ready in this epoch */
  heardAll: z.boolean(),
  pending: z.array(z.number().int().nonnegative()).max(4096),
});
export type EpochReady = z.infer<typeof EpochReady>;
