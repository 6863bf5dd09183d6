// The output-buffer pool: disposed native outputs are reused, buffers that escaped (read by
// dataSync, or viewed by a second tensor) never are, and training numbers do not change.
import * as tf from '@tensorflow/tfjs';
import t from 'tap';

import { memoryPool } from '../../worker/native/memory-pool.ts';
import { batchNormAct } from '../../worker/native/index.ts';
import { rand, setup } from './harness.ts';

const s = await setup();
if (s.skip !== undefined) {
  t.skip(s.skip, () => {});
} else {
  const { reg } = s;
  t.ok(memoryPool.installed, 'registering the native kernels installs the pool');
  const n = 64 * 1024;

  t.test('trim lets go of free buffers down to the bytes kept, oldest first', async (t) => {
    const a = rand([n]),
      b = rand([n]);
    const outs = [tf.add(a, b), tf.mul(a, b), tf.sub(a, b)];
    tf.dispose(outs);
    const free = memoryPool.stats.freeBytes;
    t.ok(free >= 3 * n * 4, `${free} bytes free after three disposed outputs`);
    memoryPool.trim(free - n * 4);
    t.ok(memoryPool.stats.freeBytes <= free - n * 4, 'at most the bytes asked for stay');
    memoryPool.trim(0);
    t.equal(memoryPool.stats.freeBytes, 0, 'trim(0) empties the lists');
    const misses = memoryPool.stats.misses;
    const c = tf.add(a, b);
    t.equal(memoryPool.stats.misses, misses + 1, 'the next output is a fresh allocation');
    tf.dispose([a, b, c]);
  });

  t.test('endStep drops the free buffers of lengths asked for in neither of the last two steps', async (t) => {
    memoryPool.trim(0);
    memoryPool.endStep();
    memoryPool.endStep(); // a clean window
    const a = rand([n]),
      b = rand([n]),
      odd = rand([n + 8]);
    tf.dispose([tf.add(a, b), tf.add(odd, odd)]); // step 1: both lengths asked for
    const both = memoryPool.stats.freeBytes;
    t.equal(both, (2 * n + 8) * 4, 'both outputs are in the lists');
    memoryPool.endStep();
    t.equal(memoryPool.stats.freeBytes, both, 'kept through the step that asked for them');
    tf.add(a, b).dispose(); // step 2: only length n again
    memoryPool.endStep();
    t.equal(memoryPool.stats.freeBytes, both, 'a length asked for one step ago is still kept');
    tf.add(a, b).dispose(); // step 3: length n + 8 unused for two steps
    memoryPool.endStep();
    t.equal(memoryPool.stats.freeBytes, n * 4, 'the length unused for two steps is gone, the used one stays');
    const misses = memoryPool.stats.misses;
    tf.add(a, b).dispose();
    t.equal(memoryPool.stats.misses, misses, 'and the kept one is still reused');
    tf.dispose([a, b, odd]);
  });

  t.test('a disposed output is handed to the next output of its length', async (t) => {
    const a = rand([n]),
      b = rand([n]);
    const before = { ...memoryPool.stats };
    const c = tf.add(a, b);
    const buf = (tf.backend() as unknown as { data: { get(id: tf.DataId): { values: Float32Array } } }).data.get(c.dataId).values;
    c.dispose();
    t.equal(memoryPool.stats.recycled, before.recycled + 1, 'the disposed output was recycled');
    const d = tf.mul(a, b);
    const buf2 = (tf.backend() as unknown as { data: { get(id: tf.DataId): { values: Float32Array } } }).data.get(d.dataId).values;
    t.equal(buf2, buf, 'the next output of that length reuses the buffer');
    const av = a.dataSync(),
      bv = b.dataSync(),
      dv = d.dataSync();
    let worst = 0;
    for (let i = 0; i < n; i++) worst = Math.max(worst, Math.abs(dv[i] - Math.fround(av[i] * bv[i])));
    t.equal(worst, 0, 'and the reused buffer holds exactly the new result');
    tf.dispose([a, b, d]);
  });

  t.test('an array read by dataSync is never recycled', async (t) => {
    const a = rand([n]),
      b = rand([n]);
    const c = tf.add(a, b);
    const held = c.dataSync();
    const copy = Float32Array.from(held);
    const before = memoryPool.stats.recycled;
    c.dispose();
    t.equal(memoryPool.stats.recycled, before, 'not recycled after dataSync');
    const more = [tf.mul(a, b), tf.sub(a, b), tf.add(b, a)];
    let same = true;
    for (let i = 0; i < n; i++) if (held[i] !== copy[i]) same = false;
    t.ok(same, 'the array the caller holds keeps its values while later ops run');
    tf.dispose([a, b, ...more]);
  });

  t.test('a buffer viewed by a second tensor is never recycled', async (t) => {
    const a = rand([n]),
      b = rand([n]);
    const c = tf.add(a, b);
    const backend = tf.backend() as unknown as {
      data: { get(id: tf.DataId): { values: Float32Array } };
      makeTensorInfo(shape: number[], dtype: tf.DataType, v: Float32Array): tf.TensorInfo;
      disposeData(id: tf.DataId): boolean;
    };
    const values = backend.data.get(c.dataId).values;
    // what a JS kernel's subarray-slice does: a second tensor on the same memory
    const view = backend.makeTensorInfo([n / 2], 'float32', values.subarray(0, n / 2));
    const before = memoryPool.stats.recycled;
    c.dispose();
    t.equal(memoryPool.stats.recycled, before, 'the first owner going away recycles nothing');
    backend.disposeData(view.dataId);
    t.equal(memoryPool.stats.recycled, before, 'nor does the view going away');
    tf.dispose([a, b]);
  });

  t.test('gradients of a conv + BN + SiLU net are bit-identical with and without the pool', async (t) => {
    const x = rand([4, 24, 24, 8]);
    const w1 = tf.variable(rand([3, 3, 8, 16], -0.3, 0.3));
    const w2 = tf.variable(rand([1, 1, 16, 8], -0.3, 0.3));
    const g = tf.variable(tf.ones([16]) as tf.Tensor1D),
      be = tf.variable(tf.zeros([16]) as tf.Tensor1D);
    const loss = () => {
      const h = batchNormAct(tf.conv2d(x as tf.Tensor4D, w1 as tf.Tensor4D, 2, 1), g, be, 1e-3, 'silu').y as tf.Tensor4D;
      return tf.sum(tf.square(tf.conv2d(h, w2 as tf.Tensor4D, 1, 'valid'))) as tf.Scalar;
    };
    const run = (steps: number) => {
      const out: Float32Array[] = [];
      for (let i = 0; i < steps; i++) {
        const { value, grads } = tf.variableGrads(loss, [w1, w2, g, be]);
        out.push(Float32Array.from([...value.dataSync(), ...grads[w1.name].dataSync(), ...grads[w2.name].dataSync()]));
        tf.dispose([value, ...Object.values(grads)]);
      }
      return out;
    };
    const hitsBefore = memoryPool.stats.hits;
    const pooled = run(3);
    t.ok(memoryPool.stats.hits > hitsBefore, 'the pooled run reused buffers');
    // the same computation under a registration without the pool
    reg.restore();
    process.env.FLOTILLA_POOL = '0';
    const again = await setup();
    delete process.env.FLOTILLA_POOL;
    if (again.skip !== undefined) throw new Error(again.skip);
    t.notOk(memoryPool.installed, 'the second registration runs without the pool');
    const plain = run(3);
    for (let i = 0; i < 3; i++) t.same(Array.from(pooled[i]), Array.from(plain[i]), `step ${i + 1} identical`);
    again.reg.restore();
    tf.dispose([x, w1, w2, g, be]);
  });
}
