/**
 * The agent's pool of warm actor processes: `size` children forked ahead of any placement with
 * the runtime, the trainer modules and the compute backend loaded (worker/actor/warm.ts), no
 * spec and no NATS credentials. A placement takes a ready one (ActorProcess.adopt) instead of
 * paying a cold start (~2 s of node + tsx + tfjs + native addon on a 2-core machine); the agent
 * refills the pool once the taken actor is under way (refillAfter in agent.ts), so a refill does
 * not compete for the cores with the start it was meant to speed up. An actor that ends clean gives its process back (giveBack; the process has
 * closed its connections and dropped its job: worker/actor/reuse.ts), so a stream of short jobs
 * runs in the same processes. A warm process that dies is replaced; one that dies young is
 * replaced after a doubling pause (a crash loop does not fork-bomb the node).
 */
import type { ChildProcess } from 'node:child_process';
import { ActorToAgent, WARM_ENV, type AgentToActor } from '../actor/index.ts';
import { actorChildEnv, forkActor, type ActorProcessOptions } from './actor-process.ts';
import type { WarmStats } from '../../shared/schemas/index.ts';

/** A warm process that exits sooner than this after its fork counts as a crash. */
export const WARM_YOUNG_MS = 10_000;
/** First pause before replacing a crashed warm process; doubled per crash up to WARM_MAX_PAUSE_MS. */
export const WARM_PAUSE_MS = 1000;
export const WARM_MAX_PAUSE_MS = 60_000;
/** A process given back beyond the pool's size is stopped after idling this long. */
export const WARM_SURPLUS_IDLE_MS = 30_000;

export type WarmPoolOptions = Pick<ActorProcessOptions, 'natsUrl' | 'prefix' | 'root' | 'entry' | 'env'> & {
  /** processes kept ready (0: no pool) */
  size: number;
  /** how long a process beyond `size` may idle before it is stopped (default WARM_SURPLUS_IDLE_MS) */
  surplusIdleMs?: number;
  /** told about crashes and refused messages (the agent logs them) */
  onProblem?: (what: string, details: Record<string, unknown>) => void;
};

interface Warm {
  child: ChildProcess;
  forkedAt: number;
  idleSince: number;
  ready: boolean;
  reused: boolean;
  onMessage(raw: unknown): void;
  onExit(): void;
  onError(err: Error): void;
}

export class WarmPool {
  readonly #o: WarmPoolOptions;
  readonly #procs = new Set<Warm>();
  #forking = 0;
  #taken = 0;
  #pause = WARM_PAUSE_MS;
  #pauseTimer: NodeJS.Timeout | undefined;
  #trimTimer: NodeJS.Timeout | undefined;
  readonly #surplusIdleMs: number;
  /** processes given back after a job (giveBack) */
  #reused = 0;
  #closed = false;
  /** waiters for a change of the pool (tests, the bench: `until ready`) */
  #changed: Array<() => void> = [];

  constructor(o: WarmPoolOptions) {
    this.#o = o;
    this.#surplusIdleMs = o.surplusIdleMs ?? WARM_SURPLUS_IDLE_MS;
  }

  get size(): number {
    return this.#o.size;
  }

  /** Forks processes until `size` are ready or starting (no-op while paused after a crash). */
  fill(): void {
    if (this.#closed || this.#pauseTimer) return;
    while (this.#procs.size + this.#forking < this.#o.size) void this.#forkOne();
  }

  /**
   * A ready process, out of the pool (the caller adopts it), or undefined. Does not refill. One
   * given back after a job goes first: its code paths are already compiled, so it starts faster
   * than a process that never ran one (and an idle surplus is the fresh one).
   */
  take(): ChildProcess | undefined {
    const order = [...this.#procs].sort((a, b) => Number(b.reused) - Number(a.reused));
    for (const w of order) {
      if (!w.ready || !w.child.connected || w.child.exitCode !== null || w.child.signalCode !== null) continue;
      this.#procs.delete(w);
      w.child.off('message', w.onMessage);
      w.child.off('exit', w.onExit);
      w.child.off('error', w.onError);
      this.#taken++;
      this.#notify();
      return w.child;
    }
    return undefined;
  }

  stats(): WarmStats {
    let ready = 0;
    for (const w of this.#procs) if (w.ready) ready++;
    return { size: this.#o.size, ready, starting: this.#procs.size - ready + this.#forking, taken: this.#taken, reused: this.#reused };
  }

  /** PIDs of the ready processes. */
  readyPids(): number[] {
    return [...this.#procs].filter((w) => w.ready && w.child.pid !== undefined).map((w) => w.child.pid as number);
  }

  /** Resolves once `pred(stats)` holds (checked at every change). */
  async until(pred: (s: WarmStats) => boolean): Promise<WarmStats> {
    while (!pred(this.stats())) await new Promise<void>((r) => this.#changed.push(r));
    return this.stats();
  }

  /**
   * Takes back a process whose actor ended clean and that waits for another start (it said
   * `ready` again: worker/actor/reuse.ts). Kept while the pool is open; a surplus beyond `size`
   * ready ones is stopped once it has idled for `surplusIdleMs`, so a steady stream of short jobs
   * reuses processes without forking or stopping any.
   */
  giveBack(child: ChildProcess): void {
    if (this.#closed || !child.connected || child.exitCode !== null || child.signalCode !== null) {
      this.#stop(child);
      return;
    }
    this.#reused++;
    const w = this.#watch(child, Date.now() - WARM_YOUNG_MS);
    w.ready = true;
    w.reused = true;
    this.#procs.add(w);
    this.#notify();
    this.#scheduleTrim();
  }

  /** Stops every warm process (an IPC stop, then SIGTERM) and forks no more. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#pauseTimer);
    const msg: AgentToActor = { type: 'stop', reason: 'agent closing' };
    clearTimeout(this.#trimTimer);
    for (const w of this.#procs) this.#stop(w.child, msg);
  }

  #stop(child: ChildProcess, msg: AgentToActor = { type: 'stop', reason: 'not needed in the warm pool' }): void {
    if (child.connected) child.send(msg, () => undefined);
    child.kill('SIGTERM');
  }

  #scheduleTrim(): void {
    if (this.#trimTimer || this.stats().ready <= this.#o.size) return;
    this.#trimTimer = setTimeout(() => {
      this.#trimTimer = undefined;
      // never-used ones first (take() prefers the others); a take since then may have used the surplus up
      for (const w of [...this.#procs].sort((a, b) => Number(a.reused) - Number(b.reused))) {
        if (this.stats().ready <= this.#o.size) break;
        if (!w.ready || Date.now() - w.idleSince < this.#surplusIdleMs) continue;
        this.#procs.delete(w);
        w.child.off('message', w.onMessage);
        w.child.off('error', w.onError);
        this.#stop(w.child);
        this.#notify();
      }
      this.#scheduleTrim();
    }, this.#surplusIdleMs);
    this.#trimTimer.unref();
  }

  #notify(): void {
    const waiters = this.#changed;
    this.#changed = [];
    for (const w of waiters) w();
  }

  async #forkOne(): Promise<void> {
    this.#forking++;
    let child: ChildProcess;
    try {
      child = await forkActor(this.#o.root, this.#o.entry, actorChildEnv(this.#o, { [WARM_ENV]: '1', FLOTILLA_ACTOR_SPEC: undefined }));
    } catch (err) {
      this.#forking--;
      this.#o.onProblem?.('cannot fork a warm actor', { err });
      this.#crashed();
      return;
    }
    this.#forking--;
    const w = this.#watch(child, Date.now());
    this.#procs.add(w);
    this.#notify();
    if (this.#closed) child.kill('SIGTERM');
  }

  /** Listeners of a pooled process: `ready`, and a death (replaced; after a pause when it died young while loading). */
  #watch(child: ChildProcess, forkedAt: number): Warm {
    const w: Warm = {
      child,
      forkedAt,
      idleSince: Date.now(),
      ready: false,
      reused: false,
      onMessage: (raw) => {
        const r = ActorToAgent.safeParse(raw);
        if (!r.success) {
          this.#o.onProblem?.('ignoring a malformed IPC message from a warm actor', { pid: child.pid });
          return;
        }
        if (r.data.type === 'ready') {
          w.ready = true;
          this.#pause = WARM_PAUSE_MS;
          this.#notify();
        }
      },
      onExit: () => {
        if (!this.#procs.delete(w)) return; // trimmed
        this.#notify();
        if (this.#closed) return;
        if (Date.now() - w.forkedAt < WARM_YOUNG_MS && !w.ready) {
          this.#o.onProblem?.('a warm actor died while starting', { pid: child.pid, code: child.exitCode, signal: child.signalCode });
          this.#crashed();
        } else this.fill();
      },
      // A dead channel (EPIPE after the child died) must not crash the agent.
      onError: (err) => this.#o.onProblem?.('warm actor process error', { err, pid: child.pid }),
    };
    child.on('error', w.onError);
    child.on('message', w.onMessage);
    child.once('exit', w.onExit);
    return w;
  }

  #crashed(): void {
    if (this.#closed || this.#pauseTimer) return;
    const pause = this.#pause;
    this.#pause = Math.min(this.#pause * 2, WARM_MAX_PAUSE_MS);
    this.#pauseTimer = setTimeout(() => {
      this.#pauseTimer = undefined;
      this.fill();
    }, pause);
    this.#pauseTimer.unref();
  }
}
