// Parameter counts, layer counts and GFLOPs of YOLOv5n/s/m/l/x at nc = 80 against Ultralytics'
// published model summaries (`model.info()` at build time, unfused, 640 px). Counting only: no
// forward pass of a big model runs here.
//
// Sources of the figures: training/val logs printing e.g. "YOLOv5s summary: 214 layers, 7235389
// parameters, 7235389 gradients, 16.6 GFLOPs" and "YOLOv5n summary: 214 layers, 1872157 parameters,
// 1872157 gradients, 4.6 GFLOPs", "YOLOv5l summary: 368 layers, 46563709 parameters"; parameter
// tables listing 21190557 (m) and 86749405 (x). The GFLOPs of m/l/x follow the thop rule that gives
// n = 4.6 and s = 16.6 (a BatchNorm counted as 4 ops per element); an older thop that counts 2 ops
// per element prints 109.3 for l (and 4.5, 16.5 for n, s).
import t from 'tap';
import * as tf from '@tensorflow/tfjs';
import { modelTestBackend } from './model-backend.ts';
import { buildModel, formatSummary } from '../../worker/engine/model/index.ts';
import { run as runModelCli } from '../../bin/cli/model.ts';

t.comment(`backend: ${await modelTestBackend()}`);

const PUBLISHED = [
  { name: 'yolov5n', title: 'YOLOv5n', layers: 214, parameters: 1872157, gflops: '4.6' },
  { name: 'yolov5s', title: 'YOLOv5s', layers: 214, parameters: 7235389, gflops: '16.6' },
  { name: 'yolov5m', title: 'YOLOv5m', layers: 291, parameters: 21190557, gflops: '49.2' },
  { name: 'yolov5l', title: 'YOLOv5l', layers: 368, parameters: 46563709, gflops: '109.6' },
  { name: 'yolov5x', title: 'YOLOv5x', layers: 445, parameters: 86749405, gflops: '206.3' },
] as const;

for (const p of PUBLISHED) {
  t.test(`${p.name} at nc=80`, async (t) => {
    const m = buildModel(p.name, { nc: 80 });
    try {
      const s = m.summary(640);
      t.equal(s.parameters, p.parameters, 'parameters');
      t.equal(s.gradients, p.parameters, 'gradients');
      t.equal(s.layers, p.layers, 'layers (PyTorch module tree)');
      t.equal(s.gflops.toFixed(1), p.gflops, 'GFLOPs at 640');
      t.equal(
        formatSummary(p.title, s),
        `${p.title} summary: ${p.layers} layers, ${p.parameters} parameters, ${p.parameters} gradients, ${p.gflops} GFLOPs`,
      );
      t.same(m.strides, [8, 16, 32], 'strides');
      t.equal(
        m.trainableVariables.weights.length,
        m.trainableVariables.bnWeights.length + 3,
        'one conv weight per BatchNorm, plus 3 Detect convs',
      );
      t.equal(m.trainableVariables.biases.length, m.trainableVariables.bnWeights.length + 3, 'BatchNorm biases plus 3 Detect biases');
    } finally {
      m.dispose();
    }
  });
}

t.test('flotilla model prints the summary line', async (t) => {
  const lines: string[] = [];
  const log = console.log;
  console.log = (...a: unknown[]) => {
    lines.push(a.join(' '));
  };
  let rc: number;
  try {
    rc = await runModelCli(['--cfg', 'yolov5n.yaml', '--nc', '80', '--img', '640']);
  } finally {
    console.log = log;
  }
  t.equal(rc, 0, 'exit code 0');
  t.ok(lines.includes('YOLOv5n summary: 214 layers, 1872157 parameters, 1872157 gradients, 4.6 GFLOPs'), lines.join('\n'));
});
