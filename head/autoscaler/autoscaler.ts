/**
 * Scales the pool on demand through a provider. Up: when waiting jobs need more slots than
 * are free, it starts enough workers (minus those still booting) to cover the gap, up to
 * `maxWorkers`. Down: a worker it started that has held no actor for `idleTimeoutMs` is
 * drained and stopped, down to `minWorkers` (default 0: scale to zero).
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from '../../shared/logger.ts';
import { DEFAULTS } from '../../shared/config.ts';
import type { Controller } from '../controller.ts';
import { unmetDemand } from '../scheduler/plan.ts';
import type { WorkerProvider } from './provider.ts';

export interface AutoscalerOptions {
  provider: WorkerProvider;
  /** slots each started worker offers (default 1) */
  slotsPerWorker?: number;
  /** workers kept running even when idle (default 0) */
  minWorkers?: number;
  /** most workers this autoscaler runs at once (default 4) */
  maxWorkers?: number;
  /** a worker idle this long is stopped (default 60000) */
  idleTimeoutMs?: number;
  /** a started worker that has not registered by then no longer counts as booting (default 60000) */
  bootTimeoutMs?: number;
  /** how often to decide (default 500) */
  intervalMs?: number;
  /** node id prefix of started workers (default "auto") */
  namePrefix?: string;
  /** mints the join token a started worker gets (the head sets it when NATS needs credentials) */
  joinToken?: (nodeId: string, pool: boolean) => Promise<string>;
}

export class Autoscaler {
  readonly #ctl: Controller;
  readonly #p: WorkerProvider;
  readonly #o: Required<Omit<AutoscalerOptions, 'provider' | 'joinToken'>>;
  readonly #joinToken: AutoscalerOptions['joinToken'];
  readonly #log: Logger;
  readonly #bootedAt = new Map<string, number>();
  readonly #idleSince = new Map<string, number>();
  #timer: NodeJS.Timeout | undefined;
  #busy = false;

  constructor(ctl: Controller, o: AutoscalerOptions, log: Logger) {
    this.#ctl = ctl;
    this.#p = o.provider;
    this.#joinToken = o.joinToken;
    this.#log = log;
    this.#o = {
      slotsPerWorker: o.slotsPerWorker ?? 1,
      minWorkers: o.minWorkers ?? 0,
      maxWorkers: o.maxWorkers ?? 4,
      idleTimeoutMs: o.idleTimeoutMs ?? DEFAULTS.idleTimeoutMs,
      bootTimeoutMs: o.bootTimeoutMs ?? 60_000,
      intervalMs: o.intervalMs ?? 500,
      namePrefix: o.namePrefix ?? 'auto',
    };
  }

  get provider(): WorkerProvider {
    return this.#p;
  }

  start(): void {
    this.#timer = setInterval(() => {
      void this.step();
    }, this.#o.intervalMs);
    void this.step();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#p.close();
  }

  /** One decision (exposed for tests). */
  async step(now = Date.now()): Promise<void> {
    if (this.#busy) return;
    this.#busy = true;
    try {
      await this.#decide(now);
    } catch (e) {
      this.#log.warn({ err: (e as Error).message }, 'autoscaler step failed');
    } finally {
      this.#busy = false;
    }
  }

  async #decide(now: number): Promise<void> {
    const jobs = this.#ctl.jobs.list();
    const nodes = this.#ctl.nodes.list();
    const mine = this.#p.list();
    // workers named by the platform (exec listCommand) boot from when they are first listed
    for (const id of mine) if (!this.#bootedAt.has(id)) this.#bootedAt.set(id, now);
    const booting = mine.filter((id) => !this.#ctl.nodes.has(id) && now - (this.#bootedAt.get(id) ?? 0) < this.#o.bootTimeoutMs);
    const demand = unmetDemand(jobs, nodes);
    const wantNew = Math.max(Math.ceil(demand / this.#o.slotsPerWorker) - booting.length, this.#o.minWorkers - mine.length);
    const room = this.#o.maxWorkers - mine.length;
    for (let i = 0; i < Math.min(wantNew, room); i++) {
      const nodeId = `${this.#o.namePrefix}-${randomBytes(4).toString('hex')}`;
      this.#bootedAt.set(nodeId, now);
      this.#log.info({ node: nodeId, provider: this.#p.name, demand }, 'scaling up');
      await this.#p.up(nodeId, await this.#joinToken?.(nodeId, this.#p.namesNodes ?? false));
    }
    if (demand > 0) {
      this.#idleSince.clear();
      return;
    }
    const busy = new Set<string>();
    for (const j of jobs) for (const p of j.placement) busy.add(p.nodeId);
    for (const n of nodes) if (n.record.actors.length > 0) busy.add(n.record.nodeId);
    let running = mine.length;
    for (const id of mine) {
      if (!this.#ctl.nodes.has(id) || busy.has(id)) {
        this.#idleSince.delete(id);
        continue;
      }
      const since = this.#idleSince.get(id) ?? now;
      this.#idleSince.set(id, since);
      if (now - since < this.#o.idleTimeoutMs || running <= this.#o.minWorkers) continue;
      running--;
      this.#idleSince.delete(id);
      this.#log.info({ node: id, provider: this.#p.name, idle_ms: now - since }, 'scaling down an idle worker');
      await this.#ctl.markDraining(id);
      void this.#p.down(id).catch((e: Error) => this.#log.warn({ node: id, err: e.message }, 'stopping a worker failed'));
    }
  }
}
