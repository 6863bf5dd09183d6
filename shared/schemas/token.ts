/** REST tokens: roles, creation, listing (the secret is shown once, stored only as a hash). */
import { z } from 'zod';
import { MAX_NAME, MAX_ROWS, MAX_SECRET, MAX_STAMP } from './bounds.ts';

/**
 * `admin`: everything (tokens, the pool, fault injection); `submitter`: submit, and cancel or
 * scale its own jobs, read all; `viewer`: read only; `worker`: a join token for a worker node
 * (NATS credentials, not a REST identity).
 */
export const ROLES = ['admin', 'submitter', 'viewer', 'worker'] as const;
export const Role = z.enum(ROLES);
export type Role = z.infer<typeof Role>;
export type RestRole = Exclude<Role, 'worker'>;

export const TokenCreate = z
  .object({
    role: Role,
    /** a label; for `worker`, the node id the token joins as (omit it for a pool token any node may use) */
    name: z
      .string()
      .regex(/^[A-Za-z0-9_.-]{1,64}$/)
      .optional(),
    /**
     * lifetime in seconds (60 s to 1 year; default: until revoked). A REST token is refused after
     * it; a pool join token admits no new worker after it (nodes that joined keep their own
     * credentials, as a kubeadm token's expiry does not evict nodes). A node-bound join token is
     * that node's identity and cannot expire.
     */
    ttl_s: z.number().int().min(60).max(31_536_000).optional(),
  })
  .strict();
export type TokenCreate = z.infer<typeof TokenCreate>;

export const TokenInfo = z.object({
  id: z.string().regex(/^[a-f0-9]{12}$/),
  role: Role,
  name: z.string().max(MAX_NAME).optional(),
  created_at: z.string().max(MAX_STAMP),
  revoked_at: z.string().max(MAX_STAMP).optional(),
  /** when the token stops working (ttl_s at creation, a dashboard login session) */
  expires_at: z.string().max(MAX_STAMP).optional(),
});
export type TokenInfo = z.infer<typeof TokenInfo>;

/** The reply of a creation: the token itself appears here only. */
export const TokenCreated = TokenInfo.extend({ token: z.string().max(MAX_SECRET) });
export type TokenCreated = z.infer<typeof TokenCreated>;

export const TokenList = z.object({ tokens: z.array(TokenInfo).max(MAX_ROWS) });
