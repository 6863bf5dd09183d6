// `flotilla export --include tfjs`: the exported TensorFlow.js graph model, loaded with
// tf.loadGraphModel in Node, gives our engine's own decoded outputs (the tiny config, every module,
// non-trivial BatchNorm statistics; the PyTorch-written .pt fixture through the CLI); and the same
// folder served over HTTP loads in headless Chromium with tfjs's browser bundle and gives Node's outputs.
import t, { type Test } from 'tap';
import * as tf from '@tensorflow/tfjs';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { modelTestBackend } from './model-backend.ts';
import { diff, tinyModel, values } from './export-kit.ts';
import { chromiumPath, launchChromium } from '../dashboard/browser.ts';
import type { YoloModel } from '../../worker/engine/model/index.ts';
import { exportTfjs, TFJS_SHARD } from '../../worker/engine/export/index.ts';
import { modelFromPretrained, readPretrained } from '../../worker/engine/weights/index.ts';
import { main } from '../../bin/cli/main.ts';

t.comment(`backend: ${await modelTestBackend()}`);
const TOL = 1e-4;

const dir = mkdtempSync(join(tmpdir(), 'export-tfjs-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

/** A graph model from model.json's object and the shard's bytes, as tf.loadGraphModel reads them. */
async function load(json: Record<string, unknown>, weights: Uint8Array): Promise<tf.GraphModel> {
  const manifest = json.weightsManifest as { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
  return tf.loadGraphModel(
    tf.io.fromMemory({
      modelTopology: json.modelTopology as object,
      format: json.format as string,
      weightSpecs: manifest[0].weights,
      weightData: weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength) as ArrayBuffer,
    }),
  );
}

/** Our eval forward + decode on an NHWC batch, [B, N, no]. */
function ours(m: YoloModel, x: Float32Array, shape: [number, number, number, number]): Float32Array {
  return tf.tidy(() => m.decode(m.forward(tf.tensor4d(x, shape), { training: false })).dataSync() as Float32Array);
}

function run(g: tf.GraphModel, x: Float32Array, shape: [number, number, number, number]): { data: Float32Array; shape: number[] } {
  return tf.tidy(() => {
    const y = g.execute(tf.tensor4d(x, shape)) as tf.Tensor;
    return { data: y.dataSync() as Float32Array, shape: y.shape };
  });
}

function compare(
  t: Test,
  g: tf.GraphModel,
  m: YoloModel,
  shape: [number, number, number, number],
  seed: number,
  what: string,
): Float32Array {
  const x = values(
    shape.reduce((a, c) => a * c, 1),
    seed,
    0,
    1,
  );
  const got = run(g, x, shape);
  const want = ours(m, x, shape);
  t.same(got.shape, [shape[0], want.length / shape[0] / m.no, m.no], `${what}: output0 is [B, N, 5+nc]`);
  const { maxAbs, maxRel } = diff(got.data, want);
  t.ok(
    got.data.length === want.length && maxRel < TOL,
    `${what}: max abs diff ${maxAbs.toExponential(2)}, max rel ${maxRel.toExponential(2)} (tolerance ${TOL} relative to max(1, |value|))`,
  );
  return got.data;
}

t.test('tiny model, [*,64,96,3]: tf.loadGraphModel in Node equals our decode', async (t) => {
  const m = tinyModel();
  t.teardown(() => m.dispose());
  const { json, weights } = exportTfjs(m, { img: [64, 96], names: ['a', 'b'] });
  t.equal(json.format, 'graph-model');
  const nodes = (json.modelTopology as { node: { op: string; name: string }[] }).node;
  const ops = new Set(nodes.map((n) => n.op));
  for (const op of [
    'Placeholder',
    'Const',
    'Conv2D',
    'BiasAdd',
    'Sigmoid',
    'Mul',
    'AddV2',
    'ConcatV2',
    'MaxPool',
    'ResizeNearestNeighbor',
    'Reshape',
    'Transpose',
    'Slice',
  ])
    t.ok(ops.has(op), `uses ${op}`);
  t.notOk(
    [...ops].some((o) => /BatchNorm/.test(o)),
    'BatchNorm is folded into the convolutions',
  );
  t.same((json.userDefinedMetadata as { names: string[] }).names, ['a', 'b']);
  const manifest = json.weightsManifest as { paths: string[]; weights: { shape: number[]; dtype: string }[] }[];
  t.same(manifest[0].paths, [TFJS_SHARD]);
  t.equal(
    weights.length,
    manifest[0].weights.reduce((s, w) => s + 4 * w.shape.reduce((a, b) => a * b, 1), 0),
    'the shard holds every manifest entry, 4 bytes a value',
  );
  const g = await load(json, weights);
  t.teardown(() => g.dispose());
  t.same(
    g.inputs.map((i) => [i.name, i.shape]),
    [['images', [-1, 64, 96, 3]]],
  );
  t.same(
    g.outputs.map((o) => o.name),
    ['output0'],
  );
  for (const seed of [1, 2]) compare(t, g, m, [1, 64, 96, 3], seed, `input ${seed}`);
  compare(t, g, m, [2, 64, 96, 3], 3, 'batch 2');
});

t.test('the .pt fixture through the CLI (--include onnx,tfjs), then in headless Chromium', async (t) => {
  const weightsFile = join(dir, 'yolov5n-w0125.pt');
  copyFileSync(fileURLToPath(new URL('../fixtures/pt/yolov5n-w0125.pt', import.meta.url)), weightsFile);
  const lines: string[] = [];
  const log = console.log;
  console.log = (...a: unknown[]) => {
    lines.push(a.join(' '));
  };
  try {
    t.equal(await main(['export', '--weights', weightsFile, '--include', 'onnx,tfjs', '--img', '64', '--json']), 0);
  } finally {
    console.log = log;
  }
  const r = JSON.parse(lines.join('\n')) as { format: string; file: string; input: unknown[]; output: unknown[] }[];
  t.same(
    r.map((x) => x.format),
    ['onnx', 'tfjs'],
  );
  t.ok(existsSync(join(dir, 'yolov5n-w0125.onnx')), 'the ONNX file beside the weights');
  const folder = join(dir, 'yolov5n-w0125_web_model');
  t.equal(r[1].file, join(folder, 'model.json'));
  t.ok(existsSync(join(folder, TFJS_SHARD)));
  t.same(r[1].input, ['batch', 64, 64, 3]);
  t.same(r[1].output, ['batch', 3 * (8 * 8 + 4 * 4 + 2 * 2), 85]);
  const json = JSON.parse(readFileSync(r[1].file, 'utf8'));
  t.match((json.userDefinedMetadata as { names: string[] }).names[0], /./, 'the names from the .pt');
  const m = modelFromPretrained(readPretrained(weightsFile));
  t.teardown(() => m.dispose());
  const g = await load(json, readFileSync(join(folder, TFJS_SHARD)));
  t.teardown(() => g.dispose());
  const shape: [number, number, number, number] = [1, 64, 64, 3];
  const inNode = compare(t, g, m, shape, 6, 'fixture in Node');

  const exe = chromiumPath();
  if (!exe) {
    t.comment('browser check skipped: no chromium binary (apt-get install chromium, or set FLOTILLA_CHROMIUM)');
    return;
  }
  const tfBundle = fileURLToPath(new URL('../../node_modules/@tensorflow/tfjs/dist/tf.min.js', import.meta.url));
  const files: Record<string, [string, string]> = {
    '/tf.min.js': [tfBundle, 'text/javascript'],
    '/model/model.json': [join(folder, 'model.json'), 'application/json'],
    [`/model/${TFJS_SHARD}`]: [join(folder, TFJS_SHARD), 'application/octet-stream'],
  };
  const server = createServer((req, res) => {
    if (req.url === '/') {
      res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><script src="/tf.min.js"></script>');
      return;
    }
    const f = files[req.url ?? ''];
    if (!f) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': f[1] }).end(readFileSync(f[0]));
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  t.teardown(() => new Promise<void>((ok) => server.close(() => ok())));
  const { port } = server.address() as AddressInfo;
  const browser = await launchChromium(exe);
  t.teardown(() => browser.close());
  const page = await browser.context.newPage();
  await page.goto(`http://127.0.0.1:${port}/`);
  const x = Array.from(values(64 * 64 * 3, 6, 0, 1));
  const got = await page.evaluate(
    async ({ x, shape }) => {
      const tfw = (globalThis as unknown as { tf: typeof tf }).tf;
      await tfw.setBackend('cpu');
      const g = await tfw.loadGraphModel('/model/model.json');
      const y = g.execute(tfw.tensor4d(x, shape)) as tf.Tensor;
      return { data: Array.from(await y.data()), shape: y.shape, version: tfw.version.tfjs };
    },
    { x, shape },
  );
  t.same(got.shape, [1, inNode.length / 85, 85], 'Chromium: output0 [1, N, 85]');
  const { maxAbs, maxRel } = diff(got.data, inNode);
  t.ok(
    maxRel < TOL,
    `Chromium (tfjs ${got.version}, cpu backend) vs Node: max abs diff ${maxAbs.toExponential(2)}, max rel ${maxRel.toExponential(2)}`,
  );
});
