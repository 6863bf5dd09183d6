/**
 * Runs POST /v1/detect's work in one worker thread, started on the first request (so the head
 * never loads tfjs unless detect is used), one image at a time, at most MAX_QUEUED requests at
 * once, the running one included (more: 503 FLO_UNAVAILABLE, retryable). A request that takes longer than its timeout ends the
 * thread (504 FLO_TIMEOUT); the next request starts a fresh one.
 */
import { Worker } from 'node:worker_threads';
import { FlotillaError } from '../../shared/errors.ts';
import { threadEntry } from '../../shared/run-entry.ts';
import type { BytesResult } from '../../worker/engine/detect/index.ts';
import type { DetectAnswer, DetectTask } from './protocol.ts';

export const MAX_QUEUED = 4;

export class DetectRunner {
  private worker: Worker | null = null;
  private tail: Promise<unknown> = Promise.resolve();
  private queued = 0;
  private nextId = 0;
  private pending: { id: number; worker: Worker; resolve: (a: DetectAnswer) => void; reject: (e: Error) => void } | null = null;
  private closed = false;

  /** @param timeoutMs the longest one request may take (applies to the requests that start after a change) */
  constructor(public timeoutMs = 120_000) {}

  /** Runs one task after those before it; throws FlotillaErrors the REST error handler maps. */
  run(task: Omit<DetectTask, 'id'>): Promise<BytesResult> {
    if (this.closed) return Promise.reject(new FlotillaError('FLO_UNAVAILABLE', 'the head is stopping'));
    if (this.queued >= MAX_QUEUED)
      return Promise.reject(new FlotillaError('FLO_UNAVAILABLE', `detect is busy (${this.queued} requests in line); retry later`));
    this.queued++;
    const p = this.tail
      .then(() => this.once({ ...task, id: this.nextId++ }))
      .finally(() => {
        this.queued--;
      });
    this.tail = p.catch(() => undefined);
    return p;
  }

  private async once(task: DetectTask): Promise<BytesResult> {
    const w = this.thread();
    const answer = await new Promise<DetectAnswer>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.stopThread();
        reject(new FlotillaError('FLO_TIMEOUT', `detect took more than ${this.timeoutMs / 1000} s`));
      }, this.timeoutMs);
      this.pending = {
        id: task.id,
        worker: w,
        resolve: (a) => {
          clearTimeout(timer);
          resolve(a);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      // copied, not transferred: a small Buffer may be a view of Node's shared pool
      w.postMessage(task);
    });
    this.pending = null;
    if ('result' in answer) return answer.result;
    const e = answer.error;
    if (e.kind === 'input')
      throw new FlotillaError('FLO_VALIDATION', `invalid request: body.image: ${e.message}`, {
        details: [{ field: 'body.image', message: e.message }],
      });
    if (e.kind === 'weights')
      throw new FlotillaError('FLO_VALIDATION', `invalid request: body.weights: ${e.message}`, {
        details: [{ field: 'body.weights', message: e.message }],
      });
    throw new FlotillaError('FLO_INTERNAL', `detect failed: ${e.message}`);
  }

  private thread(): Worker {
    if (this.worker) return this.worker;
    const w = new Worker(threadEntry(import.meta.url, 'thread'), { execArgv: [] });
    w.on('message', (a: DetectAnswer) => {
      if (this.pending?.worker === w && this.pending.id === a.id) this.pending.resolve(a);
    });
    const fail = (e: Error) => {
      if (this.worker === w) this.worker = null;
      if (this.pending?.worker === w) this.pending.reject(new FlotillaError('FLO_INTERNAL', `the detect thread failed: ${e.message}`));
    };
    w.on('error', fail);
    w.on('exit', (code) => fail(new Error(`exited with code ${code}`)));
    this.worker = w;
    return w;
  }

  private stopThread(): void {
    const w = this.worker;
    this.worker = null;
    void w?.terminate();
  }

  async close(): Promise<void> {
    this.closed = true;
    const w = this.worker;
    this.worker = null;
    await w?.terminate();
  }
}
