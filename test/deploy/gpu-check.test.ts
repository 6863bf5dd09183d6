/**
 * The GPU-machine check (scripts/gpu-check, docs/gpu-machine.md) as far as a CPU machine can
 * take it: run.sh parses, the PyTorch scripts compile, and where a Python with torch exists the
 * self-contained YOLOv5 matches the reference vectors (parameter counts, anchors, ComputeLoss's
 * three terms) and trains a step in FP32 and AMP on the CPU. prepare.mjs itself (minutes: it
 * fetches and xz-compresses Node 22) is run by hand; docs/gpu-machine.md says what it printed.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from '../../worker/agent/start.ts';

const dir = join(REPO_ROOT, 'scripts', 'gpu-check');

t.test('run.sh parses', async (t) => {
  const r = spawnSync('bash', ['-n', join(dir, 'run.sh')], { encoding: 'utf8' });
  t.equal(r.status, 0, r.stderr);
});

const torchPython = ['/usr/bin/python3', 'python3'].find((py) => spawnSync(py, ['-c', 'import torch'], { encoding: 'utf8' }).status === 0);
const anyPython = torchPython ?? ['python3', '/usr/bin/python3'].find((py) => spawnSync(py, ['--version']).status === 0);

t.test('the PyTorch scripts compile', { skip: anyPython ? false : 'no python3 on this machine' }, async (t) => {
  for (const f of ['yolov5_gpu.py', 'check_reference.py']) {
    const r = spawnSync(anyPython!, ['-c', 'import ast, sys; ast.parse(open(sys.argv[1]).read(), sys.argv[1])', join(dir, f)], {
      encoding: 'utf8',
    });
    t.equal(r.status, 0, `${f}: ${r.stderr}`);
  }
});

t.test(
  'the PyTorch YOLOv5 matches the reference vectors',
  { skip: torchPython ? false : 'no python3 with torch here (apt-get install python3-torch)' },
  async (t) => {
    const r = spawnSync(torchPython!, [join(dir, 'check_reference.py')], { encoding: 'utf8', timeout: 300_000 });
    const line = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}');
    t.equal(r.status, 0, r.stderr.slice(-500));
    t.same(line.problems, [], 'parameter count, anchors and loss terms as the reference');
    t.equal(line.params_yolov5n_nc3, 1767976);
  },
);

t.test('it trains a step on the CPU in FP32 and AMP', { skip: torchPython ? false : 'no python3 with torch here' }, async (t) => {
  const r = spawnSync(
    torchPython!,
    [
      join(dir, 'yolov5_gpu.py'),
      '--device',
      'cpu',
      '--configs',
      'yolov5n:2:64',
      '--precisions',
      'fp32,amp',
      '--steps',
      '1',
      '--warmup',
      '1',
    ],
    { encoding: 'utf8', timeout: 300_000 },
  );
  t.equal(r.status, 0, r.stderr.slice(-500));
  const rows = r.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  t.same(
    rows.map((x) => [x.model, x.precision, x.parameters, x.finite]),
    [
      ['yolov5n', 'fp32', 1872157, true],
      ['yolov5n', 'amp', 1872157, true],
    ],
  );
  t.ok(
    rows.every((x) => x.images_per_s > 0),
    'images/s measured',
  );
});
