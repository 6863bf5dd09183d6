/**
 * Counts the host round trips of the engine: every read of tensor data back to the host
 * (`dataSync`, `data`, `array*`, `buffer*` all end in the engine's `readSync`/`read`) and every
 * tensor made from host values (`tf.tensor*`, `tf.scalar`, `tf.zeros`/`ones`, a JS number given
 * to an op: all end in the engine's `makeTensor`). On a device backend each read is a stream
 * synchronisation and each write a host-to-device copy; kernel outputs and variable assigns are
 * neither and are not counted.
 *
 * Writes of one element (a JS number turned into a scalar tensor, as `x.mul(2)` does, and the
 * constants tfjs's own gradient functions make) are counted apart, as `constants`: a device
 * backend passes them to its kernels by value instead of copying them.
 *
 *   trackHostTransfers();              // once; idempotent
 *   const before = hostTransfers();
 *   step();
 *   const d = transfersSince(before);  // { reads, writes, constants, readBytes, writeBytes }
 */
import * as tf from '@tensorflow/tfjs';

export interface HostTransfers {
  /** reads of tensor data to the host */
  reads: number;
  /** tensors of more than one element made from host data */
  writes: number;
  /** tensors of one element made from host data (scalar constants) */
  constants: number;
  readBytes: number;
  writeBytes: number;
}

const totals: HostTransfers = { reads: 0, writes: 0, constants: 0, readBytes: 0, writeBytes: 0 };
let installed = false;

type Engine = {
  readSync(dataId: tf.DataId): unknown;
  read(dataId: tf.DataId): Promise<unknown>;
  makeTensor(values: unknown, shape: number[], dtype: tf.DataType, backend?: unknown): tf.Tensor;
};

function bytesOf(v: unknown): number {
  return ArrayBuffer.isView(v) ? v.byteLength : 0;
}

/** Starts counting (once per process; later calls do nothing). */
export function trackHostTransfers(): void {
  if (installed) return;
  installed = true;
  const engine = tf.engine() as unknown as Engine;
  const readSync = engine.readSync.bind(engine);
  const read = engine.read.bind(engine);
  const makeTensor = engine.makeTensor.bind(engine);
  engine.readSync = (dataId) => {
    const v = readSync(dataId);
    totals.reads++;
    totals.readBytes += bytesOf(v);
    return v;
  };
  engine.read = async (dataId) => {
    totals.reads++;
    const v = await read(dataId);
    totals.readBytes += bytesOf(v);
    return v;
  };
  engine.makeTensor = (values, shape, dtype, backend) => {
    const t = makeTensor(values, shape, dtype, backend);
    if (t.size <= 1) totals.constants++;
    else {
      totals.writes++;
      totals.writeBytes += t.size * (dtype === 'bool' ? 1 : 4);
    }
    return t;
  };
}

/** The totals since tracking started (a copy). */
export function hostTransfers(): HostTransfers {
  return { ...totals };
}

/** What happened since `before` (a value of {@link hostTransfers}). */
export function transfersSince(before: HostTransfers): HostTransfers {
  const now = totals;
  return {
    reads: now.reads - before.reads,
    writes: now.writes - before.writes,
    constants: now.constants - before.constants,
    readBytes: now.readBytes - before.readBytes,
    writeBytes: now.writeBytes - before.writeBytes,
  };
}
