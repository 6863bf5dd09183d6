/**
 * A closed connection as a strong hint that a node is gone (faster than the heartbeat
 * timeout, which stays the backstop). A SIGKILLed agent's sockets close at once and the server
 * says so ("Client Closed"); a connection that moves to another server during a failover is
 * closed by the server ("Server Shutdown"), or not reported at all (a dead server), and is
 * not a hint (disconnects.ts). Still, a hint is only believed after a check: the node must
 * answer no ping (nodeControl `ping`) for a short window: BOTH_MS once both of its connections
 * (control and heartbeat) closed, ONE_MS while only one did. Heartbeats prove life only while
 * just the control connection closed, and only two of them (one may have been in flight on the
 * head's other connection when the advisory came: under load the head reads them out of order).
 */
export type ConnRole = 'control' | 'heartbeat';

/** Confirmation window after both of a node's connections closed (ms). */
export const HINT_BOTH_MS = 300;
/** Confirmation window while only one of them did: longer than a heartbeat period (ms). */
export const HINT_ONE_MS = 2500;
/** Pause between pings while confirming (ms). */
export const HINT_PING_EVERY_MS = 100;

export interface HintDeps {
  /** true when the node's agent answered a ping */
  ping(nodeId: string): Promise<boolean>;
  /** heartbeats the head has applied from the node so far, undefined for a node the head does not know */
  beats(nodeId: string): number | undefined;
  /** the hint was confirmed */
  gone(nodeId: string, why: string): Promise<void>;
  /** told what happened (the head logs it) */
  onVerdict?(nodeId: string, v: { gone: boolean; why: string; ms: number }): void;
}

interface Pending {
  since: number;
  beatsThen: number;
  roles: Set<ConnRole>;
}

/** Heartbeats after the hint that prove a node alive while only its control connection closed. */
export const HINT_PROOF_BEATS = 2;

export class DisconnectHints {
  readonly #pending = new Map<string, Pending>();
  readonly #d: HintDeps;
  #closed = false;

  constructor(d: HintDeps) {
    this.#d = d;
  }

  /** A connection of `nodeId` in role `role` was closed by its client. */
  closed(nodeId: string, role: ConnRole, now = Date.now()): void {
    const beats = this.#d.beats(nodeId);
    if (this.#closed || beats === undefined) return;
    const p = this.#pending.get(nodeId);
    if (p) {
      p.roles.add(role);
      return;
    }
    this.#pending.set(nodeId, { since: now, beatsThen: beats, roles: new Set([role]) });
    void this.#confirm(nodeId);
  }

  stop(): void {
    this.#closed = true;
  }

  async #confirm(nodeId: string): Promise<void> {
    const p = this.#pending.get(nodeId);
    if (!p) return;
    let verdict: { gone: boolean; why: string };
    for (;;) {
      const beats = this.#d.beats(nodeId);
      if (beats === undefined) {
        verdict = { gone: false, why: 'node already removed' };
        break;
      }
      if (!p.roles.has('heartbeat') && beats - p.beatsThen >= HINT_PROOF_BEATS) {
        verdict = { gone: false, why: 'it kept sending heartbeats' };
        break;
      }
      if (await this.#d.ping(nodeId).catch(() => false)) {
        verdict = { gone: false, why: 'it answered a ping' };
        break;
      }
      const both = p.roles.size >= 2;
      if (Date.now() - p.since >= (both ? HINT_BOTH_MS : HINT_ONE_MS)) {
        verdict = { gone: true, why: `${both ? 'its connections' : `its ${[...p.roles][0]} connection`} closed and it answered no ping` };
        break;
      }
      if (this.#closed) {
        verdict = { gone: false, why: 'head stopping' };
        break;
      }
      await new Promise((r) => setTimeout(r, HINT_PING_EVERY_MS));
    }
    this.#pending.delete(nodeId);
    this.#d.onVerdict?.(nodeId, { ...verdict, ms: Date.now() - p.since });
    if (verdict.gone && !this.#closed) await this.#d.gone(nodeId, verdict.why);
  }
}
