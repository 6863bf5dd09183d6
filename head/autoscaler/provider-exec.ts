/**
 * `exec` provider: user commands start and stop workers, so any cloud CLI fits. Each command
 * runs through `sh -c` with FLOTILLA_NODE_ID, FLOTILLA_NATS_URL, FLOTILLA_PREFIX and
 * FLOTILLA_SLOTS in its environment; a non-zero exit is an error. Example:
 *   up:   gcloud compute instances create "$FLOTILLA_NODE_ID" --metadata=nats=$FLOTILLA_NATS_URL ...
 *   down: gcloud compute instances delete -q "$FLOTILLA_NODE_ID"
 *
 * Platforms that scale a replica count and name the workers themselves (a Kubernetes
 * Deployment: `kubectl scale`, pods named by the ReplicaSet) add a `listCommand` printing the
 * node ids of the running workers, one a line. The provider's list is then that output, plus
 * one placeholder per up() the listing does not show yet (so a booting worker is counted once),
 * and down() gets the real id of an idle worker to remove (deploy/k8s/scale-workers.sh).
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
  /** prints the node ids of the running workers, one a line (replica-count platforms; see above) */
  listCommand?: string;
  /** list refresh period in ms (default 3000) */
  listEveryMs?: number;
  /** a placeholder of an up() never seen in the listing is dropped after this long (default 300000) */
  placeholderMs?: number;
}

function run(cmd: string, env: Record<string, string>, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn('sh', ['-c', cmd], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let err = '';
    let out = '';
    p.stdout?.on('data', (d: Buffer) => {
      out = (out + d.toString()).slice(-100_000);
    });
    p.stderr?.on('data', (d: Buffer) => {
      err = (err + d.toString()).slice(-2000);
    });
    const t = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.once('error', (e) => {
      clearTimeout(t);
      reject(e);
    });
    p.once('exit', (code, sig) => {
      clearTimeout(t);
      if (code === 0) resolve(out);
      else reject(new FlotillaError('FLO_UNAVAILABLE', `'${cmd}' exited ${code ?? sig}: ${err.trim()}`));
    });
  });
}

export class ExecProvider implements WorkerProvider {
  readonly name = 'exec';
  readonly #o: ExecProviderOptions;
  readonly #nodes = new Set<string>();
  /** listCommand mode: the last listing, and up()s not in it yet */
  #listed: string[] = [];
  #placeholders: Array<{ id: string; at: number }> = [];
  /** stopped by down() but still listed while they drain: neither counted nor new */
  #stopping = new Set<string>();
  #timer: NodeJS.Timeout | undefined;
  /** one listing at a time: an older listing finishing late would drop workers it never saw */
  #refreshing: Promise<void> | null = null;

  constructor(o: ExecProviderOptions) {
    this.#o = o;
    if (o.listCommand) {
      this.#timer = setInterval(() => {
        void this.refresh().catch(() => undefined);
      }, o.listEveryMs ?? 3000);
      this.#timer.unref();
      void this.refresh().catch(() => undefined);
    }
  }

  /** Runs the list command (listCommand mode); each id new to the listing retires the oldest placeholder. */
  refresh(): Promise<void> {
    this.#refreshing ??= this.#list().finally(() => {
      this.#refreshing = null;
    });
    return this.#refreshing;
  }

  async #list(): Promise<void> {
    if (!this.#o.listCommand) return;
    const out = await run(
      this.#o.listCommand,
      { FLOTILLA_NATS_URL: this.#o.natsUrl, FLOTILLA_PREFIX: this.#o.prefix },
      this.#o.timeoutMs ?? 300_000,
    );
    const all = [
      ...new Set(
        out
          .split('\n')
          .map((l) => l.trim())
          .filter(Boolean),
      ),
    ];
    for (const id of this.#stopping) if (!all.includes(id)) this.#stopping.delete(id);
    const ids = all.filter((id) => !this.#stopping.has(id));
    const fresh = ids.filter((id) => !this.#listed.includes(id)).length;
    const now = Date.now();
    this.#placeholders = this.#placeholders.slice(fresh).filter((p) => now - p.at < (this.#o.placeholderMs ?? 300_000));
    this.#listed = ids;
  }

  get namesNodes(): boolean {
    return this.#o.listCommand !== undefined;
  }

  async up(nodeId: string, joinToken?: string): Promise<void> {
    if (this.#o.listCommand) {
      // the placeholder goes first, so a listing that already shows the new worker retires it
      const p = { id: nodeId, at: Date.now() };
      this.#placeholders.push(p);
      try {
        await run(this.#o.upCommand, workerEnv(this.#o, nodeId, joinToken), this.#o.timeoutMs ?? 300_000);
      } catch (e) {
        this.#placeholders = this.#placeholders.filter((x) => x !== p);
        throw e;
      }
      return;
    }
    this.#nodes.add(nodeId);
    try {
      await run(this.#o.upCommand, workerEnv(this.#o, nodeId, joinToken), this.#o.timeoutMs ?? 300_000);
    } catch (e) {
      this.#nodes.delete(nodeId);
      throw e;
    }
  }

  async down(nodeId: string): Promise<void> {
    if (this.#o.listCommand) {
      if (!this.#listed.includes(nodeId)) return;
      await run(this.#o.downCommand, workerEnv(this.#o, nodeId), this.#o.timeoutMs ?? 300_000);
      this.#stopping.add(nodeId);
      this.#listed = this.#listed.filter((id) => id !== nodeId);
      return;
    }
    if (!this.#nodes.has(nodeId)) return;
    await run(this.#o.downCommand, workerEnv(this.#o, nodeId), this.#o.timeoutMs ?? 300_000);
    this.#nodes.delete(nodeId);
  }

  list(): string[] {
    return this.#o.listCommand ? [...this.#listed, ...this.#placeholders.map((p) => p.id)] : [...this.#nodes];
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    if (this.#o.downOnClose) await Promise.all(this.list().map((id) => this.down(id).catch(() => undefined)));
  }
}
