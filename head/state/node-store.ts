/**
 * Worker nodes: the KV record of each (key = node id) plus, in memory, when this head last
 * heard from it. A head that starts gives every node in KV a fresh grace period, so a head
 * restart never declares live workers dead.
 */
import type { KV } from '@nats-io/kv';
import { NodeRecord, type NodeInfo, type NodeHeartbeat } from '../../shared/schemas/node.ts';
import { encode, validate } from '../../shared/codec.ts';
import { withJsRetry, type JsRetryOptions } from '../../shared/js-retry.ts';

export interface LiveNode {
  record: NodeRecord;
  /** local clock (ms) of the last register/heartbeat */
  heardAt: number;
  /**
   * How late this node's recent heartbeats arrived (ms, the largest of the last
   * LATE_WINDOW): arrival minus send time, less the smallest such gap seen lately (which
   * holds the clock offset between the hosts and the link's base delay). A slow but live
   * node (a saturated link) earns this much extra silence before it counts as dead.
   */
  lateMs: number;
  /** arrival - send times of the last LAG_WINDOW beats */
  lags: number[];
  /** heartbeats applied since this head knew the node */
  beats: number;
}

/** Beats that set a node's baseline delay, and those whose lateness counts. */
export const LAG_WINDOW = 60;
export const LATE_WINDOW = 10;

export class NodeStore {
  readonly #kv: KV;
  readonly #nodes = new Map<string, LiveNode>();
  /** last KV write per node, to write heartbeats at most every `persistEveryMs` */
  readonly #persistedAt = new Map<string, number>();
  readonly #persistEveryMs: number;
  readonly #retry: JsRetryOptions;

  constructor(kv: KV, opts: { persistEveryMs?: number; retry?: JsRetryOptions } = {}) {
    this.#kv = kv;
    this.#persistEveryMs = opts.persistEveryMs ?? 1000;
    this.#retry = opts.retry ?? {};
  }

  async load(now = Date.now()): Promise<number> {
    const keys = await withJsRetry(
      'list nodes',
      async () => {
        const out: string[] = [];
        for await (const k of await this.#kv.keys()) out.push(k);
        return out;
      },
      this.#retry,
    );
    for (const k of keys) {
      const e = await withJsRetry(`read node ${k}`, () => this.#kv.get(k), this.#retry);
      if (!e || e.operation !== 'PUT') continue;
      const r = NodeRecord.safeParse(e.json());
      if (r.success) this.#nodes.set(k, { record: r.data, heardAt: now, lateMs: 0, lags: [], beats: 0 });
    }
    return this.#nodes.size;
  }

  list(): LiveNode[] {
    return [...this.#nodes.values()];
  }
  get(id: string): LiveNode | undefined {
    return this.#nodes.get(id);
  }
  has(id: string): boolean {
    return this.#nodes.has(id);
  }

  async register(info: NodeInfo, now = Date.now()): Promise<NodeRecord> {
    const prev = this.#nodes.get(info.nodeId);
    const record = validate(NodeRecord, { ...info, last_seen: now, draining: false, actors: prev?.record.actors ?? [] });
    this.#nodes.set(info.nodeId, { record, heardAt: now, lateMs: prev?.lateMs ?? 0, lags: prev?.lags ?? [], beats: prev?.beats ?? 0 });
    await this.#persist(record, now, true);
    return record;
  }

  /** Applies a heartbeat of a known node; returns false for an unknown one. */
  async heartbeat(hb: NodeHeartbeat, now = Date.now()): Promise<boolean> {
    const n = this.#nodes.get(hb.nodeId);
    if (!n) return false;
    const draining = n.record.draining || hb.draining;
    n.record = {
      ...n.record,
      slots: hb.slots,
      actors: hb.actors,
      draining,
      last_seen: now,
      ...(hb.warm ? { warm: hb.warm } : {}),
      ...(hb.gpus ? { gpu_stats: hb.gpus } : {}),
    };
    n.heardAt = Math.max(n.heardAt, now);
    n.beats++;
    n.lags.push(now - hb.ts);
    if (n.lags.length > LAG_WINDOW) n.lags.shift();
    const base = Math.min(...n.lags);
    n.lateMs = Math.max(...n.lags.slice(-LATE_WINDOW).map((l) => l - base));
    await this.#persist(n.record, now, false);
    return true;
  }

  async setDraining(id: string, now = Date.now()): Promise<void> {
    const n = this.#nodes.get(id);
    if (!n || n.record.draining) return;
    n.record = { ...n.record, draining: true };
    await this.#persist(n.record, now, true);
  }

  async remove(id: string): Promise<void> {
    this.#nodes.delete(id);
    this.#persistedAt.delete(id);
    await withJsRetry(`delete node ${id}`, () => this.#kv.delete(id), this.#retry);
  }

  async #persist(r: NodeRecord, now: number, force: boolean): Promise<void> {
    const last = this.#persistedAt.get(r.nodeId) ?? 0;
    if (!force && now - last < this.#persistEveryMs) return;
    this.#persistedAt.set(r.nodeId, now);
    // a heartbeat's write is not retried: the next heartbeat writes again
    await withJsRetry(
      `write node ${r.nodeId}`,
      () => this.#kv.put(r.nodeId, encode(r)),
      force ? this.#retry : { ...this.#retry, attempts: 1 },
    );
  }
}
