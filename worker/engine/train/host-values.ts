/**
 * The optimizer's and the EMA's access to tensor storage on tfjs's `cpu` backend (native-cpu is
 * that backend with the addon's kernels). There a tensor's values are a JS Float32Array in host
 * memory: the device step has no transfers to save, and running its update as a flat kernel
 * cost a concatenation of every variable and a split back per step (docs/gpu.md, "Speed on the
 * CPU"). DeviceSgd and DeviceEma therefore run the same float32 loops (flat-math.ts) over the
 * variables' own arrays on this backend, one native call per variable, and keep their momentum
 * and average in host arrays; on every other backend they keep the flat kernels.
 *
 * Reading values here is not a transfer (it is what a kernel does with its inputs), and a new
 * value for a variable is handed to the backend as a kernel output would be, so neither is
 * counted by host-transfers.ts; the trainer's one upload and one read per step are unchanged.
 */
import * as tf from '@tensorflow/tfjs';
import { allocOutput } from '../../native/memory-pool.ts';
import { f32, output, type CpuBackend } from '../../native/cpu-backend.ts';

const cpuBackend = (): CpuBackend => tf.backend() as unknown as CpuBackend;

/** Whether the active backend keeps tensor values as host arrays (tfjs `cpu`, so native-cpu). */
export function onHostBackend(): boolean {
  return tf.getBackend() === 'cpu';
}

/**
 * The float32 values of `t` on the cpu backend, in place: no copy, and the array is the
 * tensor's storage, so the caller reads it now and neither keeps nor writes it.
 */
export function hostValues(t: tf.Tensor): Float32Array {
  const v = f32(cpuBackend(), t);
  if (!v || v.length !== t.size) throw new Error(`expected a float32 tensor of ${t.size} values in host memory`);
  return v;
}

/**
 * A fresh buffer for a variable's next value, holding its current one (from the kernels' pool:
 * the buffer a variable drops is the next step's). The variable's own array is never written,
 * since a read of it (dataSync on the cpu backend returns the storage itself) may still hold it.
 */
export function copyForUpdate(variable: tf.Variable): Float32Array {
  const out = allocOutput(variable.size);
  out.set(hostValues(variable));
  return out;
}

/** Makes `values` (a buffer from copyForUpdate, not written again by the caller) the variable's storage. */
export function adoptValues(variable: tf.Variable, values: Float32Array): void {
  if (values.length !== variable.size) throw new RangeError(`${values.length} values for a variable of ${variable.size}`);
  const t = tf.engine().makeTensorFromTensorInfo(output(cpuBackend(), variable.shape, values));
  variable.assign(t);
  t.dispose();
}
