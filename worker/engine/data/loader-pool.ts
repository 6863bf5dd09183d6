/**
 * Worker threads that build batches off the main thread. Each thread holds its own loader (and
 * image cache) with the same options, so any thread can build any batch identically.
 */
import { Worker } from 'node:worker_threads';
import { threadEntry } from '../../../shared/run-entry.ts';
import type { Batch, LoaderOptions } from './loader-types.ts';

interface Reply {
  id: number;
  batch?: Batch;
  error?: { name: string; message: string };
}

export class LoaderPool {
  private readonly workers: Worker[];
  private readonly pending = new Map<number, { resolve: (b: Batch) => void; reject: (e: Error) => void; worker: Worker }>();
  private nextId = 0;
  private turn = 0;
  private closed = false;

  /** @param opts options of the in-thread loaders (`workers` is ignored there) */
  constructor(opts: LoaderOptions, threads: number) {
    const data: LoaderOptions = { ...opts, workers: 0 };
    this.workers = Array.from({ length: threads }, () => {
      const w = new Worker(threadEntry(import.meta.url, 'loader-worker'), { workerData: data, execArgv: [] });
      w.unref();
      w.on('message', (m: Reply) => this.settle(w, m));
      w.on('error', (e) => this.failAll(w, e));
      w.on('exit', (code) => this.failAll(w, new Error(`loader worker exited with code ${code}`)));
      return w;
    });
  }

  /** Batch `index` of `epoch`, built by the next thread in turn. */
  request(epoch: number, index: number): Promise<Batch> {
    if (this.closed) return Promise.reject(new Error('loader pool is closed'));
    const worker = this.workers[this.turn++ % this.workers.length];
    const id = this.nextId++;
    const p = new Promise<Batch>((resolve, reject) => this.pending.set(id, { resolve, reject, worker }));
    worker.ref(); // an unanswered request keeps the process alive
    worker.postMessage({ id, epoch, index });
    return p;
  }

  /** Every thread's loader draws `epoch` by `weights` (posted before any later request, so it applies to them). */
  setImageWeights(epoch: number, weights: Float64Array | null): void {
    for (const w of this.workers) w.postMessage({ weights: { epoch, weights: weights ? Array.from(weights) : null } });
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.workers.map((w) => w.terminate()));
  }

  private settle(w: Worker, m: Reply): void {
    const p = this.pending.get(m.id);
    if (!p) return;
    this.pending.delete(m.id);
    this.unrefIfIdle(w);
    if (m.batch) p.resolve(m.batch);
    else p.reject(Object.assign(new Error(m.error?.message ?? 'loader worker failed'), { name: m.error?.name ?? 'Error' }));
  }

  private failAll(w: Worker, e: Error): void {
    for (const [id, p] of this.pending) {
      if (p.worker !== w) continue;
      this.pending.delete(id);
      p.reject(this.closed ? new Error('loader pool is closed') : e);
    }
    this.unrefIfIdle(w);
  }

  private unrefIfIdle(w: Worker): void {
    for (const p of this.pending.values()) if (p.worker === w) return;
    w.unref();
  }
}
