/**
 * The CUDA backend's storage (over its host stand-in, or the GPU with
 * FLOTILLA_CUDA_TEST_BACKEND=cuda): lazy uploads, reads that copy back,
 * Reshape sharing storage, disposal freeing it, bool and int32 round trips, kernels not ported
 * running by transfer (counted, and named by FLOTILLA_CUDA_REPORT=1), and how the engine picks
 * (or refuses) the backends.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import t from 'tap';
import * as tf from '@tensorflow/tfjs';

import { CUDA_ADDON_PATHS, cudaTransfers, loadCudaAddon } from '../../worker/cuda/index.ts';
import { CUDA, setupOrSkip } from './harness.ts';

const root = new URL('../..', import.meta.url).pathname;

function pick(env: Record<string, string>, extra = ''): { out: Record<string, string>; stderr: string } {
  const script = `
import * as tf from '@tensorflow/tfjs';
import { initBackend } from './worker/engine/backend.ts';
try { const i = await initBackend(); ${extra} console.log(JSON.stringify(i)); } catch (e) { console.log(JSON.stringify({ error: e.message })); }
`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: root,
    env: { ...process.env, ...env },
    encoding: 'utf8',
  });
  return { out: JSON.parse(r.stdout.trim().split('\n').pop() || '{}') as Record<string, string>, stderr: r.stderr };
}

const s = setupOrSkip(t);
if (s) {
  const { backend } = s;
  const addon = backend.addon;
  await tf.setBackend(CUDA);

  t.test('uploads are lazy, reads copy back, reshape shares storage, dispose frees', (t) => {
    const st0 = addon.stats();
    const tr0 = cudaTransfers();
    const ids0 = backend.numDataIds();
    const x = tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3]);
    t.equal(addon.stats().uploads, st0.uploads, 'creating a tensor uploads nothing');
    t.same(Array.from(x.dataSync()), [1, 2, 3, 4, 5, 6], 'reading a tensor not yet uploaded');
    t.equal(addon.stats().downloads, st0.downloads, 'which downloads nothing');
    const y = tf.square(x);
    t.equal(addon.stats().uploads, st0.uploads + 1, 'a kernel uploads its input once');
    t.equal(addon.stats().live, st0.live + 2, 'input and output in device memory');
    const r = y.reshape([3, 2]);
    t.equal(backend.numDataIds(), ids0 + 2, 'reshape adds no data id');
    t.equal(addon.stats().live, st0.live + 2, 'and no device buffer');
    y.dispose();
    t.same(Array.from(r.dataSync()), [1, 4, 9, 16, 25, 36], 'the reshape still reads after its source is disposed');
    t.equal(addon.stats().downloads, st0.downloads + 1, 'a read of device data is one download');
    const tr = cudaTransfers();
    t.same(
      tr0 && tr && { reads: tr.reads - tr0.reads, writes: tr.writes - tr0.writes },
      { reads: 1, writes: 1 },
      'cudaTransfers() counts the same round trips',
    );
    r.dispose();
    x.dispose();
    t.equal(backend.numDataIds(), ids0, 'disposing every tensor releases every data id');
    t.equal(addon.stats().live, st0.live, 'and frees every device buffer');
    t.end();
  });

  t.test('int32 and bool data', (t) => {
    const a = tf.tensor1d([3, -2, 7], 'int32');
    const g = tf.greater(tf.cast(a, 'float32'), tf.scalar(0));
    const gv = g.dataSync();
    t.ok(gv instanceof Uint8Array, 'bool reads back as a Uint8Array');
    t.same(Array.from(gv), [1, 0, 1], 'with 0/1 values');
    const i = tf.add(a, tf.tensor1d([1, 1, 1], 'int32'));
    t.ok(i.dataSync() instanceof Int32Array, 'int32 reads back as an Int32Array');
    t.same(Array.from(i.dataSync()), [4, -1, 8], 'int32 arithmetic on the addon');
    tf.dispose([a, g, i]);
    t.end();
  });

  t.test('a kernel not ported runs by transfer, counted', (t) => {
    const before = backend.fallbacks.get('Cumsum') ?? 0;
    const x = tf.tensor1d([1, 2, 3, 4]);
    const c = tf.cumsum(tf.mul(x, 2));
    t.equal(backend.fallbacks.get('Cumsum'), before + 1, 'Cumsum counted as a fallback');
    t.same(Array.from(c.dataSync()), [2, 6, 12, 20], "with the CPU kernel's result");
    const d = tf.add(c, 1);
    t.same(Array.from(d.dataSync()), [3, 7, 13, 21], 'and its output feeds the next device kernel');
    tf.dispose([x, c, d]);
    t.end();
  });

  t.test('FLOTILLA_CUDA_REPORT=1 names every fallback at exit', (t) => {
    const r = pick({ FLOTILLA_BACKEND: CUDA, FLOTILLA_CUDA_REPORT: '1' }, 'tf.cumsum(tf.tensor1d([1, 2])).dataSync();');
    t.equal(r.out.backend, CUDA, `FLOTILLA_BACKEND=${CUDA} selects it`);
    t.match(r.stderr, /fallback Cumsum: 1 calls/, 'the report names the fallback and its count');
    t.match(r.stderr, /transfers: \d+ uploads/, 'and the transfers');
    t.end();
  });

  t.test('the engine picks cuda only with the real addon and a GPU', (t) => {
    const real = loadCudaAddon('cuda');
    if (real.ok) {
      t.comment(`a GPU is present: ${real.device}`);
      t.equal(pick({ FLOTILLA_BACKEND: '' }).out.backend, 'cuda', 'with a GPU the engine picks cuda first');
    } else {
      t.comment(`no real CUDA backend here: ${real.reason}`);
      const auto = pick({ FLOTILLA_BACKEND: '' });
      t.not(auto.out.backend, 'cuda', `without one the engine moves on (${auto.out.backend})`);
      t.not(auto.out.backend, 'cuda-host', 'and never picks the host stand-in by itself');
      t.match(
        pick({ FLOTILLA_BACKEND: 'cuda' }).out.error ?? '',
        /cuda was forced but is unavailable: CUDA backend unavailable/,
        'forcing cuda fails, saying why',
      );
      if (existsSync(CUDA_ADDON_PATHS.cuda))
        t.notMatch(real.reason, /missing/, 'the real addon was built and loads (it reports the missing device)');
    }
    t.end();
  });
}
