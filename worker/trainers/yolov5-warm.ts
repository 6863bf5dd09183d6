/** A warm YOLOv5 actor's preparation before it has a job (worker/agent/warm-pool.ts). */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cachedSynthetic } from './synthetic-cache.ts';
import { initBackend } from '../engine/backend.ts';
import { loadHyp } from '../engine/hyp/index.ts';
import { fit, setupRun } from '../engine/train/index.ts';

let warmed: Promise<void> | undefined;

/** FLOTILLA_WARM_STEP=1 (the agent's environment, inherited by its warm actors): warm YOLOv5 actors take the throw-away step below. */
export const WARM_STEP_ENV = 'FLOTILLA_WARM_STEP';

/**
 * A warm actor loads tfjs, the native addon and the backend before it has a job (the backend is
 * chosen once per process), then, with FLOTILLA_WARM_STEP=1, trains one step of YOLOv5n on a tiny synthetic set (img 64,
 * batch 4) and throws it away: V8 compiles the kernels', the loss's and the loader's code paths
 * before a job's first step pays for it (measured on the loaded 2-core machine: a first step at
 * img 128 of 1.3 s cold, 0.84 s after this pass, which costs ~1.4 s while the pool fills). It
 * leaves no state a job can see: fit seeds from its settings, the model and loaders are disposed.
 * Once per process; a pass that fails only loses its speed-up.
 */
export function warm(signal?: AbortSignal): Promise<void> {
  return (warmed ??= warmOnce(signal));
}

async function warmOnce(signal?: AbortSignal): Promise<void> {
  await initBackend({ onNotice: () => undefined });
  // the throw-away step is opt-in: it costs ~1.4 s of CPU per warm fork, taken from whatever
  // trains on the node's cores while the pool refills (2-core machines: every job's neighbour)
  if (signal?.aborted || process.env[WARM_STEP_ENV] !== '1') return;
  const scratch = mkdtempSync(join(tmpdir(), 'flotilla-warm-'));
  try {
    const synthetic = { train: 4, val: 4, seed: 0, img: 64 };
    const got = await cachedSynthetic(synthetic);
    const setup = await setupRun(
      {
        cfg: 'yolov5n.yaml',
        imgsz: 64,
        epochs: 1,
        batch: 4,
        seed: 0,
        lrKind: 'linear',
        freeze: [],
        nbs: 64,
        hyp: loadHyp(undefined, {}),
        patience: 0,
        noautoanchor: true,
        data: got.yamlPath,
        synthetic,
      },
      { fresh: true },
    );
    try {
      const stop = new AbortController();
      const abort = () => stop.abort();
      signal?.addEventListener('abort', abort, { once: true });
      await fit(setup.trainer, {
        train: setup.train,
        saveDir: scratch,
        patience: 0,
        noVal: true,
        signal: stop.signal,
        onEvent: (e) => {
          if (e.type === 'batch') stop.abort();
        },
      })
        .catch(() => undefined)
        .finally(() => signal?.removeEventListener('abort', abort)); // stopped after its first step
    } finally {
      await setup.dispose();
    }
  } catch {
    /* no speed-up, nothing else lost */
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
