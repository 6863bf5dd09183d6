/** A Trainer's replica as a sync target: its flat parameters, its BatchNorm statistics, its EMA. */
import * as tf from '@tensorflow/tfjs';
import type { Trainer } from '../train/trainer.ts';
import type { SyncTarget, SyncVector } from './strategy.ts';

function variables(list: readonly tf.Variable[]): SyncVector {
  const size = list.reduce((s, v) => s + v.size, 0);
  return {
    size,
    read(out) {
      let o = 0;
      for (const v of list) {
        out.set(v.dataSync() as Float32Array, o);
        o += v.size;
      }
    },
    write(values) {
      let o = 0;
      for (const v of list) {
        const t = tf.tensor(values.subarray(o, o + v.size), v.shape, 'float32');
        v.assign(t);
        t.dispose();
        o += v.size;
      }
    },
  };
}

function arrays(list: readonly Float32Array[]): SyncVector {
  const size = list.reduce((s, a) => s + a.length, 0);
  return {
    size,
    read(out) {
      let o = 0;
      for (const a of list) {
        out.set(a, o);
        o += a.length;
      }
    },
    write(values) {
      let o = 0;
      for (const a of list) {
        a.set(values.subarray(o, o + a.length));
        o += a.length;
      }
    },
  };
}

export function trainerSyncTarget(trainer: Trainer): SyncTarget {
  const named = trainer.model.namedTensors();
  const bn = named.filter((t) => t.kind === 'runningMean' || t.kind === 'runningVar').map((t) => t.variable);
  const names = new Set(named.map((t) => t.name));
  const keys = [...trainer.ema.state.keys()].filter((k) => names.has(k));
  const ema = keys.map((k) => trainer.ema.state.get(k)!);
  const size = ema.reduce((s, a) => s + a.length, 0);
  const emaModel = {
    size,
    read(out: Float32Array) {
      const sd = trainer.model.stateDict();
      let o = 0;
      for (const k of keys) {
        const v = sd.get(k)!;
        out.set(v, o);
        o += v.length;
      }
    },
  };
  return {
    params: {
      size: trainer.layout.size,
      read: (out) => {
        trainer.layout.read(out);
      },
      write: (v) => trainer.layout.write(v),
    },
    ...(bn.length ? { buffers: variables(bn) } : {}),
    ...(ema.length ? { ema: arrays(ema), emaModel } : {}),
  };
}
