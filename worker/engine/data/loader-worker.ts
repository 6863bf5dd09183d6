/**
 * A loader pool thread: builds the batches it is asked for with an in-thread loader of the same
 * options (a batch is a pure function of seed, epoch and index) and transfers them back.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createLoader } from './loader.ts';
import type { LoaderOptions } from './loader-types.ts';

/** A request from the pool. */
export interface BatchRequest {
  id: number;
  epoch: number;
  index: number;
}

if (!parentPort) throw new Error('loader-worker.ts runs only as a worker thread');
const port = parentPort;
const loader = createLoader({ ...(workerData as LoaderOptions), workers: 0 });
/** The pool's image weights for an epoch (LoaderPool.setImageWeights). */
export interface WeightsMessage {
  weights: { epoch: number; weights: number[] | null };
}

port.on('message', (m: BatchRequest | WeightsMessage) => {
  if ('weights' in m) {
    loader.setImageWeights(m.weights.epoch, m.weights.weights ? Float64Array.from(m.weights.weights) : null);
    return;
  }
  loader.getBatch(m.epoch, m.index).then(
    (batch) => port.postMessage({ id: m.id, batch }, [batch.images.buffer as ArrayBuffer, batch.targets.buffer as ArrayBuffer]),
    (e: Error) => port.postMessage({ id: m.id, error: { name: e.name, message: e.message } }),
  );
});
