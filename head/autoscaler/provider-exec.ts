/**
 * `exec` provider: user commands start and stop workers, so any cloud CLI fits. Each command
 * runs through `sh -c` with FLOTILLA_NODE_ID, FLOTILLA_NATS_URL, FLOTILLA_PREFIX and
 * FLOTILLA_SLOTS in its environment; a non-zero exit is an error. Example:
 *   up:   gcloud compute instances create "$FLOTILLA_NODE_ID" --metadata=nats=$FLOTILLA_NATS_URL ...
 *   down: gcloud compute instances delete -q "$FLOTILLA_NODE_ID"
 */
import { spawn } from 'node:child_process';
import { FlotillaError } from '../../shared/errors.ts';
import { workerEnv, type WorkerEnv, type WorkerProvider } from './provider.ts';

export interface ExecProviderOptions extends WorkerEnv {
  upCommand: string;
  downCommand: string;
  /** stop workers on head shutdown (default false: cloud machines outlive a head restart) */
  downOnClose?: boolean;
  /** a command running longer than this fails (default 300000) */
  timeoutMs?: number;
}

function run(cmd: string, env: Record<string, string>, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn('sh', ['-c', cmd], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
    let err = '';
    p.stderr?.on('data', (d: Buffer) => { err = (err + d.toString()).slice(-2000); });
    const t = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.once('error', (e) => { clearTimeout(t); reject(e); });
    p.once('exit', (code, sig) => {
      clearTimeout(t);
      if (code === 0) resolve();
      else reject(new FlotillaError('FLO_UNAVAILABLE', `'${cmd}' exited ${code ?? sig}: ${err.trim()}`));
    });
  });
}

export class ExecProvider implements WorkerProvider {
  readonly name = 'exec';
  readonly #o: ExecProviderOptions;
  readonly #nodes = new Set<string>();

  constructor(o: ExecProviderOptions) { this.#o = o; }

  async up(nodeId: string): Promise<void> {
    this.#nodes.add(nodeId);
    try { await run(this.#o.upCommand, workerEnv(this.#o, nodeId), this.#o.timeoutMs ?? 300_000); }
    catch (e) { this.#nodes.delete(nodeId); throw e; }
  }

  async down(nodeId: string): Promise<void> {
    if (!this.#nodes.has(nodeId)) return;
    await run(this.#o.downCommand, workerEnv(this.#o, nodeId), this.#o.timeoutMs ?? 300_000);
    this.#nodes.delete(nodeId);
  }

  list(): string[] { return [...this.#nodes]; }

  async close(): Promise<void> {
    if (this.#o.downOnClose) await Promise.all(this.list().map((id) => this.down(id).catch(() => undefined)));
  }
}
