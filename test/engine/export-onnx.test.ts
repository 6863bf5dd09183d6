// `flotilla export --include onnx`: the exported model run by onnxruntime (onnxruntime-web's wasm
// backend in Node) gives our engine's own decoded outputs, for the tiny config (every module) with
// non-trivial BatchNorm statistics, static and dynamic, two opsets; and for the PyTorch-written
// .pt fixture through the CLI.
import t, { type Test } from 'tap';
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-web';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { modelTestBackend } from './model-backend.ts';
import { diff, tinyModel, values } from './export-kit.ts';
import type { YoloModel } from '../../worker/engine/model/index.ts';
import { decodeModel, exportOnnx, irVersionFor, MAX_OPSET, MIN_OPSET } from '../../worker/engine/export/index.ts';
import { modelFromPretrained, readPretrained } from '../../worker/engine/weights/index.ts';
import { main } from '../../bin/cli/main.ts';

t.comment(`backend: ${await modelTestBackend()}`);
ort.env.wasm.numThreads = 1;

const dir = mkdtempSync(join(tmpdir(), 'export-onnx-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

/** Our eval forward + decode on an NCHW batch, [B, N, no]. */
function ours(m: YoloModel, nchw: Float32Array, [b, , h, w]: number[]): Float32Array {
  return tf.tidy(() => {
    const x = tf.transpose(tf.tensor4d(nchw, [b, 3, h, w]), [0, 2, 3, 1]) as tf.Tensor4D;
    return m.decode(m.forward(x, { training: false })).dataSync() as Float32Array;
  });
}

async function compare(t: Test, session: ort.InferenceSession, m: YoloModel, shape: number[], seed: number, what: string): Promise<void> {
  const x = values(
    shape.reduce((a, c) => a * c, 1),
    seed,
    0,
    1,
  );
  const r = await session.run({ images: new ort.Tensor('float32', x, shape) });
  const got = r.output0.data as Float32Array;
  const want = ours(m, x, shape);
  t.same(r.output0.dims, [shape[0], want.length / shape[0] / m.no, m.no], `${what}: output0 is [B, N, 5+nc]`);
  const { maxAbs, maxRel } = diff(got, want);
  t.ok(
    got.length === want.length && maxRel < 1e-4,
    `${what}: max abs diff ${maxAbs.toExponential(2)}, max rel ${maxRel.toExponential(2)} (tolerance 1e-4 relative to max(1, |value|))`,
  );
}

t.test('tiny model, static [1,3,64,96], opset 17: onnxruntime equals our decode', async (t) => {
  const m = tinyModel();
  t.teardown(() => m.dispose());
  const bytes = exportOnnx(m, { img: [64, 96], opset: 17, names: ['a', "b'c"] });
  const model = decodeModel(bytes);
  t.equal(model.irVersion, 8);
  t.same(
    model.opsetImport.map((o) => o.version),
    [17],
  );
  t.same(
    model.graph.input.map((i) => i.name),
    ['images'],
  );
  t.same(
    model.graph.output.map((i) => i.name),
    ['output0'],
  );
  t.same(model.graph.input[0].type.tensorType.shape.dim, [{ dimValue: 1 }, { dimValue: 3 }, { dimValue: 64 }, { dimValue: 96 }]);
  t.same(model.metadataProps, [
    { key: 'stride', value: '8' },
    { key: 'names', value: "{0: 'a', 1: 'b\\'c'}" },
  ]);
  const ops = new Set(model.graph.node.map((n) => n.opType));
  for (const op of ['Conv', 'Sigmoid', 'Mul', 'Add', 'Concat', 'MaxPool', 'Resize', 'Reshape', 'Transpose', 'Slice'])
    t.ok(ops.has(op), `uses ${op}`);
  t.notOk(ops.has('BatchNormalization'), 'BatchNorm is folded into the convolutions');
  const session = await ort.InferenceSession.create(bytes);
  for (const seed of [1, 2, 3]) await compare(t, session, m, [1, 3, 64, 96], seed, `input ${seed}`);
  await t.rejects(
    session.run({ images: new ort.Tensor('float32', new Float32Array(3 * 64 * 64), [1, 3, 64, 64]) }),
    'a static model refuses another size',
  );
});

t.test('tiny model, --dynamic, opset 12: other batch sizes and image sizes', async (t) => {
  const m = tinyModel();
  t.teardown(() => m.dispose());
  const bytes = exportOnnx(m, { img: [64, 64], opset: 12, dynamic: true });
  const model = decodeModel(bytes);
  t.equal(model.irVersion, 7);
  t.same(model.graph.input[0].type.tensorType.shape.dim, [
    { dimParam: 'batch' },
    { dimValue: 3 },
    { dimParam: 'height' },
    { dimParam: 'width' },
  ]);
  t.same(model.graph.output[0].type.tensorType.shape.dim, [{ dimParam: 'batch' }, { dimParam: 'anchors' }, { dimValue: 7 }]);
  const session = await ort.InferenceSession.create(bytes);
  await compare(t, session, m, [1, 3, 64, 64], 4, '1×64×64');
  await compare(t, session, m, [2, 3, 32, 80], 5, '2×32×80');
});

t.test('every opset the exporter offers (11..21) runs in onnxruntime with the same outputs', async (t) => {
  const m = tinyModel();
  t.teardown(() => m.dispose());
  for (let opset = MIN_OPSET; opset <= MAX_OPSET; opset++) {
    const bytes = exportOnnx(m, { img: [32, 64], opset, dynamic: opset % 2 === 1 });
    t.equal(decodeModel(bytes).irVersion, irVersionFor(opset));
    await compare(
      t,
      await ort.InferenceSession.create(bytes),
      m,
      [1, 3, 32, 64],
      10 + opset,
      `opset ${opset}${opset % 2 === 1 ? ' dynamic' : ''}`,
    );
  }
});

t.test('the .pt fixture through the CLI: the file beside the weights, equal to our forward', async (t) => {
  const weights = join(dir, 'yolov5n-w0125.pt');
  copyFileSync(fileURLToPath(new URL('../fixtures/pt/yolov5n-w0125.pt', import.meta.url)), weights);
  const lines: string[] = [];
  const log = console.log;
  console.log = (...a: unknown[]) => {
    lines.push(a.join(' '));
  };
  try {
    t.equal(await main(['export', '--weights', weights, '--include', 'onnx', '--img', '64,96', '--json']), 0);
  } finally {
    console.log = log;
  }
  const [r] = JSON.parse(lines.join('\n'));
  t.equal(r.file, join(dir, 'yolov5n-w0125.onnx'));
  t.ok(existsSync(r.file));
  t.same(r.input, [1, 3, 64, 96]);
  t.same(r.output, [1, 3 * (8 * 12 + 4 * 6 + 2 * 3), 85]);
  const m = modelFromPretrained(readPretrained(weights));
  t.teardown(() => m.dispose());
  const bytes = readFileSync(r.file);
  t.match(decodeModel(bytes).metadataProps.find((p) => p.key === 'names')?.value, /^\{0: '/, 'the names from the .pt');
  const session = await ort.InferenceSession.create(bytes);
  await compare(t, session, m, [1, 3, 64, 96], 6, 'fixture');
});

t.test('the CLI refuses what is not built, naming it', async (t) => {
  const errs: string[] = [];
  const error = console.error;
  console.error = (...a: unknown[]) => {
    errs.push(a.join(' '));
  };
  try {
    t.equal(await main(['export', '--weights', 'w.pt', '--include', 'paddle']), 2);
    t.match(errs.pop(), /--include paddle: not built yet/);
    t.equal(await main(['export', '--weights', 'w.pt', '--opset', '9']), 2);
    t.match(errs.pop(), /--opset: expected an integer in \[11, 21\]/);
    t.equal(await main(['export', '--include', 'onnx']), 2);
    t.match(errs.pop(), /--weights: required/);
  } finally {
    console.error = error;
  }
});

t.test('docs/yolov5-weights-detect.md lists every export flag', async (t) => {
  const lines: string[] = [];
  const log = console.log;
  console.log = (...a: unknown[]) => {
    lines.push(a.join(' '));
  };
  try {
    t.equal(await main(['export', '--help']), 0);
  } finally {
    console.log = log;
  }
  const flags = [...new Set(lines.join('\n').match(/--[a-z][a-z-]+/g) ?? [])];
  const doc = readFileSync(fileURLToPath(new URL('../../docs/yolov5-weights-detect.md', import.meta.url)), 'utf8');
  t.ok(flags.length >= 9, `${flags.length} flags in the usage`);
  t.same(
    flags.filter((f) => !doc.includes(`\`${f}`)),
    [],
    'each one is documented',
  );
});
