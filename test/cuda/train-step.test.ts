/**
 * A full YOLOv5n training iteration (forward, loss, backward, clip + Nesterov SGD + EMA) through
 * the CUDA backend over its host stand-in (`cuda-host`), against the same iteration on the
 * native CPU kernels: the same loss and flat gradient within float tolerance, no kernel run by
 * transfer, no data ids or device buffers leaked from one iteration to the next, the
 * transfers between host and device counted (the report FLOTILLA_CUDA_REPORT=1 prints); then
 * validation of the trained model, also without fallbacks.
 */
import t from 'tap';
import * as tf from '@tensorflow/tfjs';

import { formatCudaReport } from '../../worker/cuda/index.ts';
import { loadHyp } from '../../worker/engine/hyp/index.ts';
import { buildModel } from '../../worker/engine/model/index.ts';
import { Trainer, validate } from '../../worker/engine/train/index.ts';
import { syntheticBatch } from '../engine/train-fixtures.ts';
import { CUDA, REFERENCE, relErr, setupOrSkip } from './harness.ts';

const IMG = 64,
  BATCH = 2;
// The flat gradient agrees to ~1e-4 normwise, not 1e-6: at 64 pixels the P5 layers' BatchNorm
// sees 2×2×2 = 8 rows, and its backward amplifies the float rounding of the layers above (the
// native CPU kernels and tfjs's JS kernels differ by 3e-5 on the same iteration; measured per
// layer, the difference is spread over all of them, largest in the P5 head).
const GRAD_TOL = 5e-4;

const s = setupOrSkip(t);
if (s) {
  const { backend } = s;
  const hyp = loadHyp();
  const run = async (name: string) => {
    await tf.setBackend(name);
    const model = buildModel('yolov5n', { nc: 80, seed: 1 });
    const trainer = new Trainer(model, { hyp, epochs: 10, batchSize: BATCH, batchesPerEpoch: 100, imgsz: IMG, nbs: BATCH });
    const steps: Array<{
      loss: number[];
      grads: Float32Array;
      ids: number;
      tensors: number;
      live: number;
      fallbacks: number;
      uploads: number;
      downloads: number;
    }> = [];
    for (let k = 0; k < 3; k++) {
      const st0 = backend.addon.stats();
      const { grads, items } = trainer.computeGradients(syntheticBatch(k, BATCH, IMG, 80));
      const copy = Float32Array.from(grads);
      trainer.applyGradients();
      const st = backend.addon.stats();
      steps.push({
        loss: [items.box, items.obj, items.cls],
        grads: copy,
        ids: tf.engine().backend.numDataIds(),
        tensors: tf.memory().numTensors,
        live: st.live,
        fallbacks: [...backend.fallbacks.values()].reduce((a, b) => a + b, 0),
        uploads: st.uploads - st0.uploads,
        downloads: st.downloads - st0.downloads,
      });
    }
    // the parameters and the EMA after three steps, read once each
    const params = Float32Array.from(
      tf.tidy(() => tf.concat(trainer.layout.entries.map((e) => tf.reshape(e.variable, [e.size]))).dataSync() as Float32Array),
    );
    const ema = [...trainer.ema.state.values()].flatMap((v) => Array.from(v));
    // validation of the trained model (eval BatchNorm, decode; NMS runs on the host)
    const val = await validate(model, [syntheticBatch(9, BATCH, IMG, 80)], { hyp, imgsz: IMG });
    return {
      steps,
      params,
      ema,
      val: [val.loss.box, val.loss.obj, val.loss.cls],
      fallbacks: [...backend.fallbacks.values()].reduce((a, b) => a + b, 0),
    };
  };
  const fallbacksBefore = [...backend.fallbacks.values()].reduce((a, b) => a + b, 0);
  const wantRun = await run(REFERENCE);
  const nativeBn = backend.native.get('FusedBatchNorm') ?? 0;
  const gotRun = await run(CUDA);
  const want = wantRun.steps,
    got = gotRun.steps;
  for (let k = 0; k < got.length; k++) {
    const e = relErr(got[k].loss, want[k].loss);
    t.ok(
      e <= 1e-4,
      `iteration ${k + 1}: loss items [${got[k].loss.map((v) => v.toFixed(6))}] vs ${s.reference} [${want[k].loss.map((v) => v.toFixed(6))}]: relative error ${e.toExponential(2)} <= 1e-4`,
    );
    const g = relErr(got[k].grads, want[k].grads);
    t.ok(
      g <= GRAD_TOL,
      `iteration ${k + 1}: flat gradient (${got[k].grads.length} values) relative error ${g.toExponential(2)} <= ${GRAD_TOL}`,
    );
  }
  t.equal(got[2].fallbacks, fallbacksBefore, 'no kernel of the YOLOv5n iteration ran by transfer (0 fallbacks)');
  t.equal(got[2].ids, got[1].ids, `no data id leaked from iteration 2 to 3 (${got[2].ids} live)`);
  t.equal(got[2].tensors, got[1].tensors, `no tensor leaked (${got[2].tensors})`);
  t.equal(got[2].live, got[1].live, `no device buffer leaked (${got[2].live} live)`);
  for (const k of [1, 2]) {
    // each iteration steps the optimizer (nbs = batch): images + targets up, gradient + loss items
    // down, clipped gradient + the step's scalars up; constants given to ops as numbers go by value
    const rt = got[k].downloads + got[k].uploads;
    t.ok(
      got[k].downloads >= 1 && got[k].uploads >= 1 && rt <= 4,
      `iteration ${k + 1}: ${got[k].downloads} downloads + ${got[k].uploads} uploads = ${rt} <= 4 host round trips`,
    );
  }
  const ep = relErr(gotRun.params, wantRun.params),
    ee = relErr(gotRun.ema, wantRun.ema);
  t.ok(ep <= 1e-5, `parameters after 3 optimizer steps (FlotillaNesterov on the addon) relative error ${ep.toExponential(2)} <= 1e-5`);
  t.ok(ee <= 1e-5, `EMA after 3 updates (FlotillaEma on the addon) relative error ${ee.toExponential(2)} <= 1e-5`);
  const ev = relErr(gotRun.val, wantRun.val);
  t.ok(ev <= 1e-4, `validation loss [${gotRun.val.map((v) => v.toFixed(6))}] relative error ${ev.toExponential(2)} <= 1e-4`);
  t.ok((backend.native.get('FusedBatchNorm') ?? 0) > nativeBn, 'validation ran the eval BatchNorm on the addon');
  t.equal(gotRun.fallbacks, fallbacksBefore, 'and no kernel of validation ran by transfer');
  for (const line of formatCudaReport(backend)) t.comment(line);
}
