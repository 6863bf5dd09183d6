/**
 * The agent's pool of warm actor processes: `size` children forked ahead of any placement with
 * the runtime, the trainer modules and the compute backend loaded (worker/actor/warm.ts), no
 * spec and no NATS credentials. A placement takes a ready one (ActorProcess.adopt) instead of
 * paying a cold start (~2 s of node + tsx + tfjs + native addon on a 2-core machine); the agent
 * refills the pool once the taken actor is under way (actor-refill in agent.ts), so a refill
 * does not compete for the cores with the start it was meant to speed up. A warm process that
 * dies is replaced; one that dies young is replaced after a doubling pause (a crash loop does
 * not fork-bomb the node).
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

export type WarmPoolOptions = Pick<ActorProcessOptions, 'natsUrl' | 'prefix' | 'root' | 'entry' | 'env'> & {
  /** processes kept ready (0: no pool) */
  size: number;
  /** told about crashes and refused messages (the agent logs them) */
  onProblem?: (what: string, details: Record<string, unknown>) => void;
};

interface Warm { child: ChildProcess; forkedAt: number; ready: boolean; onMessage(raw: unknown): void; onExit(): void }

export class WarmPool {
  readonly #o: WarmPoolOptions;
  readonly #procs = new Set<Warm>();
  #forking = 0;
  #taken = 0;
  #pause = WARM_PAUSE_MS;
  #pauseTimer: NodeJS.Timeout | undefined;
  #closed = false;
  /** waiters for a change of the pool (tests, the bench: `until ready`) */
  #changed: Array<() => void> = [];

  constructor(o: WarmPoolOptions) { this.#o = o; }

  get size(): number { return this.#o.size; }

  /** Forks processes until `size` are ready or starting (no-op while paused after a crash). */
  fill(): void {
    if (this.#closed || this.#pauseTimer) return;
    while (this.#procs.size + this.#forking < this.#o.size) void this.#forkOne();
  }

  /** A ready process, out of the pool (the caller adopts it), or undefined. Does not refill. */
  take(): ChildProcess | undefined {
    for (const w of this.#procs) {
      if (!w.ready || !w.child.connected || w.child.exitCode !== null || w.child.signalCode !== null) continue;
      this.#procs.delete(w);
      w.child.off('message', w.onMessage);
      w.child.off('exit', w.onExit);
      this.#taken++;
      this.#notify();
      return w.child;
    }
    return undefined;
  }

  stats(): WarmStats {
    let ready = 0;
    for (const w of this.#procs) if (w.ready) ready++;
    return { size: this.#o.size, ready, starting: this.#procs.size - ready + this.#forking, taken: this.#taken };
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

  /** Stops every warm process (an IPC stop, then SIGTERM) and forks no more. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#pauseTimer);
    const msg: AgentToActor = { type: 'stop', reason: 'agent closing' };
    for (const w of this.#procs) {
      if (w.child.connected) w.child.send(msg, () => undefined);
      w.child.kill('SIGTERM');
    }
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
    const w: Warm = {
      child, forkedAt: Date.now(), ready: false,
      onMessage: (raw) => {
        const r = ActorToAgent.safeParse(raw);
        if (!r.success) { this.#o.onProblem?.('ignoring a malformed IPC message from a warm actor', { pid: child.pid }); return; }
        if (r.data.type === 'ready') { w.ready = true; this.#pause = WARM_PAUSE_MS; this.#notify(); }
      },
      onExit: () => {
        this.#procs.delete(w);
        this.#notify();
        if (this.#closed) return;
        if (Date.now() - w.forkedAt < WARM_YOUNG_MS && !w.ready) {
          this.#o.onProblem?.('a warm actor died while starting', { pid: child.pid, code: child.exitCode, signal: child.signalCode });
          this.#crashed();
        } else this.fill();
      },
    };
    // A dead channel (EPIPE after the child died) must not crash the agent.
    child.on('error', (err) => this.#o.onProblem?.('warm actor process error', { err, pid: child.pid }));
    child.on('message', w.onMessage);
    child.once('exit', w.onExit);
    this.#procs.add(w);
    this.#notify();
    if (this.#closed) child.kill('SIGTERM');
  }

  #crashed(): void {
    if (this.#closed || this.#pauseTimer) return;
    const pause = this.#pause;
    this.#pause = Math.min(this.#pause * 2, WARM_MAX_PAUSE_MS);
    this.#pauseTimer = setTimeout(() => { this.#pauseTimer = undefined; this.fill(); }, pause);
    this.#pauseTimer.unref();
  }
}
