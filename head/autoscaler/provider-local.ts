/**
 * `local` provider: each worker is a child process of this one running the worker agent
 * (`node worker/agent/main.ts`, compiled or through tsx: shared/run-entry.ts). down() sends SIGTERM (the agent drains and exits)
 * and SIGKILLs after `stopTimeoutMs`; close() stops them all, so none outlive the head.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { openSync, closeSync } from 'node:fs';
import { workerEnv, type WorkerEnv, type WorkerProvider } from './provider.ts';
import { REPO_ROOT, nodeArgs } from '../../shared/run-entry.ts';

const ROOT = REPO_ROOT;

export interface LocalProviderOptions extends WorkerEnv {
  /** agent entry point (default <repo>/worker/agent/main.ts) */
  entry?: string;
  /** where worker output goes: 'inherit', 'ignore' (default) or a file path prefix (<prefix><nodeId>.log) */
  output?: 'inherit' | 'ignore' | { dir: string };
  /** SIGKILL a stopping worker after this long (default 15000) */
  stopTimeoutMs?: number;
  /** extra env for workers */
  env?: Record<string, string>;
}

export class LocalProvider implements WorkerProvider {
  readonly name = 'local';
  readonly #o: LocalProviderOptions;
  readonly #procs = new Map<string, { proc: ChildProcess; exited: Promise<void> }>();

  constructor(o: LocalProviderOptions) {
    this.#o = o;
  }

  async up(nodeId: string, joinToken?: string): Promise<void> {
    const entry = this.#o.entry ?? join(ROOT, 'worker', 'agent', 'main.ts');
    let fd: number | undefined;
    const out = this.#o.output ?? 'ignore';
    if (typeof out === 'object') fd = openSync(join(out.dir, `${nodeId}.log`), 'a');
    const stdio = fd !== undefined ? (['ignore', fd, fd] as const) : out === 'inherit' ? 'inherit' : 'ignore';
    const proc = spawn(process.execPath, nodeArgs(entry), {
      cwd: ROOT,
      stdio: stdio as never,
      env: { ...process.env, ...this.#o.env, ...workerEnv(this.#o, nodeId, joinToken) },
    });
    if (fd !== undefined) closeSync(fd);
    const exited = new Promise<void>((r) =>
      proc.once('exit', () => {
        this.#procs.delete(nodeId);
        r();
      }),
    );
    proc.once('error', () => this.#procs.delete(nodeId));
    this.#procs.set(nodeId, { proc, exited });
  }

  async down(nodeId: string): Promise<void> {
    const p = this.#procs.get(nodeId);
    if (!p) return;
    if (p.proc.exitCode === null && p.proc.signalCode === null) p.proc.kill('SIGTERM');
    const t = setTimeout(() => p.proc.kill('SIGKILL'), this.#o.stopTimeoutMs ?? 15_000);
    await p.exited;
    clearTimeout(t);
  }

  list(): string[] {
    return [...this.#procs.keys()];
  }

  /** The process of a worker (fault-injection tests kill it). */
  process(nodeId: string): ChildProcess | undefined {
    return this.#procs.get(nodeId)?.proc;
  }

  async close(): Promise<void> {
    await Promise.all(this.list().map((id) => this.down(id)));
  }
}
