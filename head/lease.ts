/**
 * The head lease: at most one active head per prefix. The leader renews a KV key (revision
 * CAS) every `leaseMs / 3`; a standby watches the key's revision and takes over with a CAS
 * write once it has not moved for `leaseMs` on the standby's own clock (no clock comparison
 * between hosts). A stopped leader deletes the key so a standby takes over at once.
 */
import type { KV } from '@nats-io/kv';
import type { Logger } from '../shared/logger.ts';
import { encode } from '../shared/codec.ts';
import { withJsRetry } from '../shared/js-retry.ts';

const KEY = 'leader';

export interface Lease {
  /** stops renewing and releases the key */
  release(): Promise<void>;
  /** local clock (ms) of the last renewal that JetStream acknowledged */
  renewedAt(): number;
}

export interface LeaseOptions {
  headId: string;
  leaseMs: number;
  log: Logger;
  /** called when a renewal finds another head holds the lease */
  onLost: () => void;
  signal?: AbortSignal;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until this head holds the lease, then keeps it until released. */
export async function acquireLease(kv: KV, o: LeaseOptions): Promise<Lease> {
  const value = () => encode({ head: o.headId, pid: process.pid, renewed_at: new Date().toISOString() });
  let rev = 0;
  let seenRev = -1;
  let seenAt = Date.now();
  let announced = false;
  while (!rev) {
    if (o.signal?.aborted) throw new Error('aborted while waiting for the head lease');
    const e = await withJsRetry('read the head lease', () => kv.get(KEY), { budgetMs: 60_000, attempts: 1000 });
    const now = Date.now();
    try {
      if (!e || e.operation !== 'PUT') {
        rev = e ? await kv.update(KEY, value(), e.revision) : await kv.create(KEY, value());
      } else if (e.revision !== seenRev) {
        seenRev = e.revision;
        seenAt = now;
      } else if (now - seenAt > o.leaseMs) {
        rev = await kv.update(KEY, value(), e.revision);
        o.log.warn({ previous: (e.json() as { head?: string }).head }, 'took over the head lease from a silent head');
      }
    } catch {
      seenRev = -1; // another head moved first: watch again
    }
    if (!rev) {
      if (!announced) {
        o.log.info({ lease_ms: o.leaseMs }, 'another head holds the lease; standing by');
        announced = true;
      }
      await sleep(Math.max(50, Math.floor(o.leaseMs / 6)));
    }
  }
  let renewedAt = Date.now();
  let stopped = false;
  let busy = false;
  const lost = () => {
    stopped = true;
    clearInterval(timer);
    o.log.error({}, 'lost the head lease to another head');
    o.onLost();
  };
  const renew = async () => {
    try {
      rev = await kv.update(KEY, value(), rev);
      renewedAt = Date.now();
    } catch {
      // a failed write may be a timeout rather than a takeover: look before giving up
      const e = await kv.get(KEY).catch(() => undefined);
      if (e === undefined) return;
      const holder = e && e.operation === 'PUT' ? (e.json() as { head?: string }).head : undefined;
      if (holder === o.headId) {
        rev = e!.revision;
        renewedAt = Date.now();
      } else if (!stopped) lost();
    }
  };
  const timer = setInterval(
    () => {
      if (stopped || busy) return;
      busy = true;
      void renew().finally(() => {
        busy = false;
      });
    },
    Math.max(50, Math.floor(o.leaseMs / 3)),
  );
  return {
    renewedAt: () => renewedAt,
    async release() {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      await kv.delete(KEY, { previousSeq: rev }).catch(() => undefined);
    },
  };
}
