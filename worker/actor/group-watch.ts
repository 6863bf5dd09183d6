/**
 * The actor edge's view of its collective group (the library emits, this logs): the allreduce
 * algorithm the group picked (once, and again when it changes with the message size), and the
 * messages of other generations it dropped, counted, the first one logged at once and then a
 * running total at most every STALE_LOG_MS, the final count when the group closes; and each
 * epoch of the group (a lost data connection: the operations in flight wait and run again).
 */
import type { Logger } from '../../shared/logger.ts';
import type { CollectiveGroup } from './group.ts';

export const STALE_LOG_MS = 5000;

export interface GroupWatch {
  /** messages of another generation dropped so far */
  readonly staleDropped: number;
  /** logs the final count; call once the group is closed */
  done(): void;
}

export function watchGroup(g: CollectiveGroup, log: Logger): GroupWatch {
  let algorithm: string | undefined;
  let stale = 0;
  let loggedAt = 0;
  let loggedCount = 0;
  g.on('op', (e) => {
    if (e.op !== 'allreduce' || !e.algorithm || e.algorithm === algorithm || e.error) return;
    algorithm = e.algorithm;
    log.info(
      {
        algorithm,
        bytes: e.bytes,
        worldSize: g.worldSize,
        lanes: g.laneKind,
        ...(g.laneFallback ? { lanes_fallback: g.laneFallback } : {}),
      },
      'allreduce algorithm',
    );
  });
  g.on('epoch', (e) => {
    if (e.phase === 'lost')
      log.warn(
        { epoch: e.epoch, pending: e.pending, reason: e.reason },
        'collective: a data connection was lost; the operations in flight wait and run again',
      );
    else
      log.info(
        { epoch: e.epoch, pending: e.pending, ms: Math.round(e.ms ?? 0) },
        'collective: every rank is back; the operations in flight run again',
      );
  });
  g.on('stale', (info) => {
    stale++;
    const now = Date.now();
    if (stale === 1 || now - loggedAt >= STALE_LOG_MS) {
      loggedAt = now;
      loggedCount = stale;
      log.warn(
        { dropped: stale, subject: info.subject, from_generation: info.generation ?? null },
        'dropped collective messages of another generation',
      );
    }
  });
  return {
    get staleDropped() {
      return stale;
    },
    done() {
      if (stale > loggedCount) log.warn({ dropped: stale }, 'dropped collective messages of another generation (total)');
    },
  };
}
