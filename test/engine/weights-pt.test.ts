// PyTorch .pt files in: the safe pickle reader, an Ultralytics-style pickled-module checkpoint
// (fp16) and a plain state dict, both written by PyTorch (scripts/make-pt-fixture.py), checked
// against PyTorch's forward outputs; the train.py-style transfer when nc differs.
import t, { type Test } from 'tap';
import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { modelTestBackend } from './model-backend.ts';
import { buildModel, loadModelYaml, type YoloModel } from '../../worker/engine/model/index.ts';
import { encodeCheckpoint, stored } from '../../worker/engine/checkpoint/index.ts';
import {
  halfToFloat,
  modelFromPretrained,
  PickleError,
  readPretrained,
  transferPretrained,
  unpickle,
  WeightsError,
} from '../../worker/engine/weights/index.ts';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tinyYaml } from './model-tiny.ts';

t.comment(`backend: ${await modelTestBackend()}`);

const DIR = fileURLToPath(new URL('../fixtures/pt/', import.meta.url));
const MODULE_PT = join(DIR, 'yolov5n-w0125.pt');
const SD_PT = join(DIR, 'yolov5n-w0125-sd.pt');
const fx = JSON.parse(readFileSync(join(DIR, 'fixture.json'), 'utf8')) as {
  input: number[];
  raw: number[][];
  decoded: number[];
  state_dict_items: number;
  width_multiple: number;
  nc: number;
  parameters: number;
};
const expected = new Float32Array(new Uint8Array(readFileSync(join(DIR, 'outputs.bin'))).buffer);
const fixtureYaml = () => ({ ...loadModelYaml('yolov5n'), width_multiple: fx.width_multiple });

/** The script's input: NCHW flat index i holds ((i·7919) mod 1000)/1000; here as NHWC. */
function fixedInput(): tf.Tensor4D {
  const [, c, h, w] = fx.input;
  const nhwc = new Float32Array(c * h * w);
  for (let ch = 0; ch < c; ch++)
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) {
        const i = (ch * h + y) * w + x;
        nhwc[(y * w + x) * c + ch] = ((i * 7919) % 1000) / 1000;
      }
  return tf.tensor4d(nhwc, [1, h, w, c]);
}

function run(m: YoloModel): { raw: Float32Array[]; decoded: Float32Array } {
  const x = fixedInput();
  const raw = m.forward(x, { training: false });
  const dec = m.decode(raw);
  const out = { raw: raw.map((r) => Float32Array.from(r.dataSync())), decoded: Float32Array.from(dec.dataSync()) };
  tf.dispose([x, ...raw, dec]);
  return out;
}

/** Largest |a − b| / (1 + |b|). */
function maxRelErr(a: Float32Array, b: Float32Array): number {
  let e = 0;
  for (let i = 0; i < a.length; i++) e = Math.max(e, Math.abs(a[i] - b[i]) / (1 + Math.abs(b[i])));
  return a.length === b.length ? e : Infinity;
}

function compareToTorch(t: Test, got: { raw: Float32Array[]; decoded: Float32Array }): void {
  let off = 0;
  fx.raw.forEach((shape, l) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const err = maxRelErr(got.raw[l], expected.subarray(off, off + n));
    t.ok(err < 1e-3, `level ${l} raw [${shape}] matches PyTorch (max rel err ${err.toExponential(2)})`);
    off += n;
  });
  const n = fx.decoded.reduce((a, b) => a * b, 1);
  const err = maxRelErr(got.decoded, expected.subarray(off, off + n));
  t.ok(err < 1e-3, `decoded [${fx.decoded}] matches PyTorch (max rel err ${err.toExponential(2)})`);
  t.equal(off + n, expected.length, 'every value of outputs.bin compared');
}

t.test('an Ultralytics-style checkpoint (pickled DetectionModel, fp16) loads and runs as PyTorch runs it', async (t) => {
  const w = readPretrained(MODULE_PT);
  t.equal(w.format, 'pytorch');
  t.match(w.description, /model \(ckpt\['model'\], f16 tensors\)/, w.description);
  t.equal(w.nc, 80);
  t.equal(w.names?.length, 80, 'names from model.names');
  t.ok(w.cfg && typeof w.cfg === 'object' && w.cfg.width_multiple === fx.width_multiple, 'the architecture from model.yaml');
  t.equal(w.state.size, fx.state_dict_items, 'as many tensors as PyTorch state_dict() holds');
  const m = modelFromPretrained(w);
  t.teardown(() => m.dispose());
  t.equal(m.paramCount(), fx.parameters, 'same parameter count as PyTorch');
  compareToTorch(t, run(m));
});

t.test('a plain state dict (fp32) needs --cfg and then gives the same model', async (t) => {
  const w = readPretrained(SD_PT);
  t.match(w.description, /state dict \(top level, f32/);
  t.throws(() => modelFromPretrained(w), WeightsError, 'no architecture recorded');
  t.throws(() => modelFromPretrained(w, 'yolov5n'), /does not fit yolov5n/, 'another width is refused (strict)');
  const m = modelFromPretrained(w, fixtureYaml());
  t.teardown(() => m.dispose());
  compareToTorch(t, run(m));
});

t.test('fine-tuning with another nc transfers the tensors whose shapes match (intersect_dicts)', async (t) => {
  const w = readPretrained(MODULE_PT);
  const m = buildModel(fixtureYaml(), { nc: 3 });
  t.teardown(() => m.dispose());
  const before = m.stateDict();
  const r = transferPretrained(m, w);
  // the three Detect convolutions (weight, bias) have 8·3 outputs instead of 85·3
  t.equal(r.total, fx.state_dict_items, 'Y counts as PyTorch state_dict() does');
  t.equal(r.transferred, fx.state_dict_items - 6);
  t.equal(r.message, `Transferred ${fx.state_dict_items - 6}/${fx.state_dict_items} items from ${MODULE_PT}`);
  t.same(r.skipped.sort(), [
    'model.24.m.0.bias',
    'model.24.m.0.weight',
    'model.24.m.1.bias',
    'model.24.m.1.weight',
    'model.24.m.2.bias',
    'model.24.m.2.weight',
  ]);
  const after = m.stateDict();
  t.same(after.get('model.24.m.0.weight'), before.get('model.24.m.0.weight'), 'a skipped tensor keeps its init');
  const bn = w.state.get('model.4.m.1.cv2.bn.running_var')!;
  t.same(after.get('model.4.m.1.cv2.bn.running_var'), bn.data, 'a transferred BatchNorm buffer');
  const anchors = w.state.get('model.24.anchors')!;
  t.same(after.get('model.24.anchors'), anchors.data, 'anchors transferred');
  const m2 = buildModel(fixtureYaml(), { nc: 3 });
  t.teardown(() => m2.dispose());
  const r2 = transferPretrained(m2, w, { excludeAnchors: true });
  t.equal(r2.transferred, fx.state_dict_items - 7, 'anchors excluded when --cfg is given, as train.py');
});

t.test('our own checkpoints are weights too (EMA preferred)', async (t) => {
  const src = buildModel(tinyYaml(), { seed: 3 });
  const dst = buildModel(tinyYaml(), { seed: 4 });
  t.teardown(() => {
    src.dispose();
    dst.dispose();
  });
  const tensors = new Map([...src.stateDict()].map(([k, v]) => [`ema/${k}`, stored(v)]));
  const dir = mkdtempSync(join(tmpdir(), 'weights-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'best.ckpt');
  writeFileSync(file, encodeCheckpoint({ tensors, meta: { nc: src.nc, names: ['a'] } }));
  const w = readPretrained(file);
  t.equal(w.format, 'flotilla');
  const r = transferPretrained(dst, w);
  t.equal(r.transferred, r.total);
  t.same(dst.stateDict(), src.stateDict(), 'every tensor copied');
});

t.test('the pickle reader runs no code and refuses unknown globals', async (t) => {
  const enc = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
  const noStorage = () => {
    throw new Error('no storage');
  };
  // pickle.dumps(os.system) reduced with ('ls',): what a malicious weights file would hold
  t.throws(() => unpickle(enc('\x80\x02cposix\nsystem\nq\x00X\x02\x00\x00\x00lsq\x01\x85q\x02Rq\x03.'), noStorage), PickleError);
  t.throws(() => unpickle(enc('\x80\x02cbuiltins\neval\n.'), noStorage), /refusing global builtins\.eval/);
  t.throws(() => unpickle(enc('\x80\x02ctorch.nn.modules.conv\nConv2d\n'), noStorage), /truncated/);
  t.same(
    unpickle(enc('\x80\x02}q\x00(X\x01\x00\x00\x00aK\x01X\x01\x00\x00\x00b]q\x01(G?\xf0\x00\x00\x00\x00\x00\x00\x88eu.'), noStorage),
    new Map<unknown, unknown>([
      ['a', 1],
      ['b', [1, true]],
    ]),
  );
  t.equal(halfToFloat(0x3c00), 1);
  t.equal(halfToFloat(0xc000), -2);
  t.equal(halfToFloat(0x0001), 2 ** -24, 'subnormal');
  t.equal(halfToFloat(0x7bff), 65504);
});
