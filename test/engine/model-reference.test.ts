// YOLOv5n against the Ultralytics reference vectors: PyTorch weights loaded, forward in eval and
// train mode, decoded boxes, BatchNorm running statistics after one train pass, per-layer table.
// Tolerances are those of the reference README.
import t from 'tap';
import * as tf from '@tensorflow/tfjs';
import { modelTestBackend } from './model-backend.ts';
import { buildModel, type TorchTensorInfo } from '../../worker/engine/model/index.ts';
import { closeAll, readF32, readManifest, referenceDir, type RefFile } from './loss-reference.ts';

interface ForwardManifest {
  model: {
    config: string;
    nc: number;
    na: number;
    nl: number;
    no: number;
    strides: number[];
    anchors_grid_units: number[][][];
    param_count: number;
    batchnorm: { count: number; eps: number; momentum: number };
    modules: { index: number; type: string; params: number; out_channels: number | number[]; args: Record<string, unknown> }[];
  };
  weights: RefFile & { tensors: TorchTensorInfo[] };
  input: RefFile;
  eval: { raw: (RefFile & { level: string })[]; decoded: RefFile };
  train: { raw: (RefFile & { level: string })[]; bn_running_after?: RefFile & { tensors: TorchTensorInfo[] } };
}

const dir = referenceDir();
if (!dir) {
  t.comment('skipping model reference tests: reference folder (vectors.json) not found');
  t.pass('reference absent', { skip: 'reference folder shared/reference not found' });
} else {
  t.comment(`backend: ${await modelTestBackend()}`);
  const F = (readManifest(dir) as { forward: ForwardManifest }).forward;
  const M = F.model;
  const model = buildModel(M.config, { nc: M.nc });
  const report = model.loadTorchWeights(readF32(dir, F.weights), F.weights.tensors);
  const [n, c, h, w] = F.input.shape;
  const input = tf.tidy(() => tf.transpose(tf.tensor4d(readF32(dir, F.input), [n, c, h, w]), [0, 2, 3, 1]) as tf.Tensor4D);

  t.test('structure matches the manifest', async (t) => {
    t.equal(report.loaded.length, F.weights.tensors.length, 'every reference tensor loaded');
    t.equal(model.paramCount(), M.param_count, `param_count ${M.param_count}`);
    t.same([model.nc, model.na, model.nl, model.no], [M.nc, M.na, M.nl, M.no], 'nc, na, nl, no');
    t.same(model.strides, M.strides, 'strides');
    t.same(model.anchors, M.anchors_grid_units, 'anchors in grid units');
    const table = model.layerTable();
    t.equal(table.length, M.modules.length, 'layer count');
    t.same(
      table.map((r) => r.params),
      M.modules.map((m) => m.params),
      'per-layer parameter counts',
    );
    t.same(
      table.map((r) => r.qualname),
      M.modules.map((m) => m.type),
      'PyTorch classes',
    );
    const channels = (args: Record<string, unknown>) => ('c_in' in args && !Array.isArray(args.c_in) ? [args.c_in, args.c_out] : null);
    t.same(
      table.map((r) => (r.qualname.startsWith('models.common.') && r.module !== 'Concat' ? r.shownArgs.slice(0, 2) : null)),
      M.modules.map((m) => channels(m.args)),
      'input and output channels of every Conv, C3 and SPPF',
    );
    t.same(
      table.filter((r) => r.module === 'C3').map((r) => r.shownArgs[2]),
      M.modules.filter((m) => m.type === 'models.common.C3').map((m) => m.args.n),
      'C3 repeats',
    );
    const bnCount = model.namedTensors().filter((x) => x.kind === 'runningMean').length;
    t.equal(bnCount, M.batchnorm.count, 'BatchNorm count');
  });

  t.test('Detect bias prior agrees with the reference weights (built by Ultralytics, never trained)', async (t) => {
    const blob = readF32(dir, F.weights);
    M.strides.forEach((s, l) => {
      const b = F.weights.tensors.find((x) => x.name === `model.24.m.${l}.bias`)!;
      const w = F.weights.tensors.find((x) => x.name === `model.24.m.${l}.weight`)!;
      const bound = 1 / Math.sqrt(w.shape[1]); // PyTorch's default bias init: U(±1/√fan_in)
      const bias = blob.subarray(b.offset, b.offset + b.numel);
      const objPrior = Math.log(8 / (640 / s) ** 2);
      const clsPrior = Math.log(0.6 / (M.nc - 0.99999));
      let ok = true;
      for (let a = 0; a < M.na; a++) {
        for (let k = 0; k < M.no; k++) {
          const prior = k === 4 ? objPrior : k >= 5 ? clsPrior : 0;
          if (Math.abs(bias[a * M.no + k] - prior) > bound + 1e-6) ok = false;
        }
      }
      t.ok(ok, `level ${l} (stride ${s}): box 0, obj ${objPrior.toFixed(3)}, cls ${clsPrior.toFixed(3)}, each ± ${bound.toFixed(3)}`);
    });
  });

  t.test('eval forward and decode', async (t) => {
    const raw = model.forward(input, { training: false });
    F.eval.raw.forEach((ref, i) => {
      t.same(raw[i].shape, ref.shape, `${ref.level} shape`);
      t.equal(closeAll(raw[i].dataSync(), readF32(dir, ref), 1e-4, 3e-4), null, `${ref.level} raw logits`);
    });
    const dec = model.decode(raw);
    t.same(dec.shape, F.eval.decoded.shape, 'decoded shape');
    const got = dec.dataSync();
    const want = readF32(dir, F.eval.decoded);
    const no = M.no;
    const cols = (a: ArrayLike<number>, lo: number, hi: number) => Array.from(a).filter((_, i) => i % no >= lo && i % no < hi);
    t.equal(closeAll(cols(got, 0, 4), cols(want, 0, 4), 1e-4, 1e-3), null, 'decoded x, y, w, h');
    t.equal(closeAll(cols(got, 4, no), cols(want, 4, no), 1e-4, 1e-5), null, 'decoded obj and class probabilities');
    tf.dispose([...raw, dec]);
  });

  t.test('train forward with batch statistics, then running statistics', async (t) => {
    const start = model.stateDict();
    // no update requested: running statistics stay as loaded
    tf.dispose(model.forward(input, { training: true, updateRunningStats: false }));
    t.same(model.stateDict().get('model.0.bn.running_mean'), start.get('model.0.bn.running_mean'), 'updateRunningStats: false leaves them');

    const raw = model.forward(input, { training: true });
    F.train.raw.forEach((ref, i) => {
      t.equal(closeAll(raw[i].dataSync(), readF32(dir, ref), 1e-4, 3e-4), null, `${ref.level} raw logits`);
    });
    tf.dispose(raw);
    const after = F.train.bn_running_after;
    if (!after) {
      t.comment('manifest has no bn_running_after: running statistics not checked');
      return;
    }
    const blob = readF32(dir, after);
    const sd = model.stateDict();
    for (const x of after.tensors) {
      const got = sd.get(x.name);
      if (!got) {
        t.fail(`${x.name} missing from stateDict`);
        continue;
      }
      const res = closeAll(got, blob.subarray(x.offset, x.offset + x.numel), 1e-4, 1e-5);
      if (res !== null) t.fail(`${x.name}: ${res}`);
    }
    t.pass(`${after.tensors.length} running-statistic tensors within rtol 1e-4, atol 1e-5`);
    // restore, so the order of subtests never matters
    model.loadStateDict(start);
  });

  t.teardown(() => {
    input.dispose();
    model.dispose();
  });
}
