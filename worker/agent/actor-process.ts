/**
 * One actor process as the agent sees it: forked with the spec in its env and an IPC channel
 * (or a warm process from the pool, given its spec over IPC), stopped with SIGTERM (plus an IPC
 * `stop`) and SIGKILL after a grace period, reaped into a typed outcome: at its exit, or, for a
 * pooled process that outlives its actor, at its `result` followed by `ready`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { Logger } from '../../shared/logger.ts';
import { nodeArgs } from '../../shared/run-entry.ts';
import type { ActorOutcome, ActorSpec, ActorState } from '../../shared/schemas/index.ts';
import { ActorToAgent, type AgentToActor } from '../actor/index.ts';
import { nodeCacheRoot } from '../actor/node-cache.ts';
import { outcomeOf, type StopIntent } from './outcome.ts';

export interface ActorProcessOptions {
  natsUrl: string;
  prefix: string;
  /** repository root: cwd of the child */
  root: string;
  /** the actor entry script */
  entry: string;
  log: Logger;
  /** extra env for the child (tests) */
  env?: NodeJS.ProcessEnv;
  /** the actor's own NATS creds (from the head's spawn); the agent's credentials never reach the child */
  creds?: string;
}

/**
 * Env of an actor child: the agent's, without any credential (the agent's own never reach a
 * child), plus `o.env`, the NATS URL and prefix, and `extra`. NODE_COMPILE_CACHE (Node >= 22.1)
 * defaults to `node-compile-cache` in the node cache: V8 keeps the compiled modules, so an
 * actor after the first compiles less when it starts.
 */
export function actorChildEnv(o: Pick<ActorProcessOptions, 'natsUrl' | 'prefix' | 'env'>, extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return {
    NODE_COMPILE_CACHE: join(nodeCacheRoot(), 'node-compile-cache'),
    ...process.env,
    FLOTILLA_NATS_CREDS: undefined,
    FLOTILLA_JOIN_TOKEN: undefined,
    ...o.env,
    FLOTILLA_NATS_URL: o.natsUrl,
    FLOTILLA_PREFIX: o.prefix,
    ...extra,
  };
}

/** Forks an actor child (`node <entry>`, compiled or through tsx: shared/run-entry.ts) with an IPC channel; resolves once the OS process exists. */
export function forkActor(root: string, entry: string, env: NodeJS.ProcessEnv): Promise<ChildProcess> {
  const child = spawn(process.execPath, nodeArgs(entry), { cwd: root, env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    child.once('error', onError);
    child.once('spawn', () => {
      child.off('error', onError);
      resolve(child);
    });
  });
}

export class ActorProcess {
  state: ActorState = 'starting';
  /** last step the actor reported through a heartbeat */
  step: number | undefined;
  /** resolves at the actor's first heartbeat (its first step) */
  readonly firstBeat: Promise<void>;
  private beaten!: () => void;
  private result: ActorOutcome | undefined;
  private stopReq: { intent: StopIntent; reason: string } | undefined;
  private killTimer: NodeJS.Timeout | undefined;
  /** resolves with the outcome once the process has exited */
  readonly exited: Promise<ActorOutcome>;
  /** told about each fault phase the actor reports (the agent's fault executor) */
  onFault: ((m: Extract<ActorToAgent, { type: 'fault' }>) => void) | undefined;
  /** called once the actor runs its trainer (it listens to IPC by then) */
  onRunning: (() => void) | undefined;
  /** set when the process outlived its actor and is to be pooled again (see returnToPool) */
  returned = false;

  /** `spec`: updated when live recovery keeps the actor in a newer generation */
  private constructor(
    public spec: ActorSpec,
    readonly child: ChildProcess,
    private readonly log: Logger,
  ) {
    this.firstBeat = new Promise((r) => {
      this.beaten = r;
    });
    this.exited = new Promise((resolve) => {
      this.end = resolve;
    });
    child.once('exit', this.onExit);
    child.on('message', this.onMessageBound);
    // A dead channel (EPIPE after the child died) must not crash the agent.
    child.on('error', this.onError);
  }

  private end!: (o: ActorOutcome) => void;
  private readonly onMessageBound = (raw: unknown) => this.onMessage(raw);
  private readonly onError = (err: Error) => this.log.warn({ err }, 'actor process error');
  private readonly onExit = (code: number | null, signal: NodeJS.Signals | null) => {
    clearTimeout(this.killTimer);
    this.state = 'exited';
    this.end(outcomeOf({ result: this.result, code, signal, stop: this.stopReq }));
  };

  /**
   * The actor ended and its process lives on as a warm one (it sent its `result`, closed its
   * connections and said `ready` again, worker/actor/reuse.ts): `exited` resolves with the
   * result and the process is no longer this actor's; the agent gives it back to its pool.
   */
  private returnToPool(): void {
    clearTimeout(this.killTimer);
    this.child.off('exit', this.onExit);
    this.child.off('message', this.onMessageBound);
    this.child.off('error', this.onError);
    this.returned = true;
    this.state = 'exited';
    this.end(outcomeOf({ result: this.result, code: null, signal: null, stop: this.stopReq }));
  }

  /** Forks the actor; resolves once the OS process exists. */
  static async spawn(spec: ActorSpec, o: ActorProcessOptions): Promise<ActorProcess> {
    const env = actorChildEnv(o, { ...(o.creds ? { FLOTILLA_NATS_CREDS: o.creds } : {}), FLOTILLA_ACTOR_SPEC: JSON.stringify(spec) });
    return new ActorProcess(spec, await forkActor(o.root, o.entry, env), o.log);
  }

  /**
   * Makes a warm process (worker/agent/warm-pool.ts, already `ready`) this actor: its spec and
   * creds go over IPC. A process that died meanwhile exits at once, as any crashed actor does.
   */
  static adopt(child: ChildProcess, spec: ActorSpec, creds: string | undefined, log: Logger): ActorProcess {
    const proc = new ActorProcess(spec, child, log);
    const msg: AgentToActor = { type: 'start', spec, ...(creds ? { creds } : {}) };
    if (child.connected) child.send(msg, () => undefined);
    else child.kill('SIGKILL');
    return proc;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }
  get stopping(): boolean {
    return this.stopReq !== undefined;
  }

  /** Sends an IPC message to the actor (dropped when the channel is gone). */
  send(msg: AgentToActor): void {
    if (this.child.connected) this.child.send(msg, () => undefined);
  }

  /** SIGTERM (and an IPC stop) now, SIGKILL after `graceMs`. The first intent wins. */
  stop(intent: StopIntent, reason: string, graceMs: number): void {
    if (this.state === 'exited') return;
    this.stopReq ??= { intent, reason };
    this.state = 'stopping';
    const msg: AgentToActor = { type: 'stop', reason };
    if (this.child.connected) this.child.send(msg, () => undefined);
    this.child.kill('SIGTERM');
    if (!this.killTimer) {
      this.killTimer = setTimeout(() => {
        if (this.child.exitCode === null && this.child.signalCode === null) {
          this.log.warn({ actor: this.spec.actorId, graceMs }, 'actor ignored SIGTERM; SIGKILL');
          this.child.kill('SIGKILL');
        }
      }, graceMs);
      this.killTimer.unref();
    }
  }

  private onMessage(raw: unknown): void {
    const r = ActorToAgent.safeParse(raw);
    if (!r.success) {
      this.log.warn({ actor: this.spec.actorId }, 'ignoring a malformed IPC message from an actor');
      return;
    }
    const m = r.data;
    if (m.type === 'result') this.result = m.outcome;
    // `ready` after a result: the process ran this actor to the end and waits for another;
    // one told to stop meanwhile is on its way out and is left to exit
    else if (m.type === 'ready') {
      if (this.result && !this.stopReq && this.state !== 'exited') this.returnToPool();
    } else if (m.type === 'heartbeat') {
      if (m.step !== undefined) this.step = m.step;
      this.beaten();
    } else if (m.type === 'fault') this.onFault?.(m);
    else if (m.type === 'state' && this.state !== 'stopping' && this.state !== 'exited') {
      this.state = m.state;
      if (m.state === 'running') this.onRunning?.();
    }
  }
}
