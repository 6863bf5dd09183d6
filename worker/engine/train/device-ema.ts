/**
 * The model EMA of ema.ts kept on the backend: every averaged tensor (parameters and BatchNorm
 * buffers) in one flat tensor, updated by tensor ops after each optimizer step,
 *   ema ← d·ema + (1 − d)·model,  d = decay · (1 − exp(−updates / tau)),
 * each operation rounded to float32 in ModelEma's order, so the two are bit-identical. Nothing
 * is read back per step; `state` reads the flat tensor once (checkpoints, validation).
 * State entries that are not model tensors (the anchors) are host values, copied from the
 * model at each update as ModelEma copies them.
 * On tfjs's `cpu` backend (native-cpu) the average is a host array updated in place, tensor by
 * tensor from the model's own arrays (the same loop, so the same bits): no concatenation of the
 * model state per update (host-values.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { emaStep, flatMath } from '../../native/index.ts';
import { hostValues, onHostBackend } from './host-values.ts';
import { EMA_DECAY, EMA_TAU, emaDecay } from './ema.ts';
import type { TrainableModel } from './types.ts';

interface Slot {
  readonly name: string;
  readonly variable: tf.Variable;
  readonly offset: number;
  readonly size: number;
}

export class DeviceEma {
  /** optimizer steps averaged so far */
  updates: number;
  readonly decay: number;
  readonly tau: number;
  /** state-dict names in the model's order; averaged ones map to their slot */
  private readonly order: readonly string[];
  private readonly slots: readonly Slot[];
  private readonly bySlot: ReadonlyMap<string, Slot>;
  /** the non-tensor entries (anchors), host copies */
  private readonly extras: Map<string, Float32Array>;
  /** the average on the backend; null on a host backend, where `hostFlat` holds it */
  private readonly flat: tf.Variable<tf.Rank.R1> | null;
  private readonly hostFlat: Float32Array | null;

  /** Starts as a copy of the model's state (read once here). */
  constructor(
    private readonly model: TrainableModel,
    updates = 0,
    opts: { decay?: number; tau?: number } = {},
  ) {
    this.updates = updates;
    this.decay = opts.decay ?? EMA_DECAY;
    this.tau = opts.tau ?? EMA_TAU;
    const state = model.stateDict();
    const vars = new Map(model.namedTensors().map((t) => [t.name, t.variable]));
    const slots: Slot[] = [];
    this.extras = new Map();
    let offset = 0;
    for (const [name, v] of state) {
      const variable = vars.get(name);
      if (variable) {
        if (variable.size !== v.length)
          throw new Error(`EMA: ${name} has ${variable.size} elements in the model, ${v.length} in its state dict`);
        slots.push({ name, variable, offset, size: v.length });
        offset += v.length;
      } else this.extras.set(name, Float32Array.from(v));
    }
    this.order = [...state.keys()];
    this.slots = slots;
    this.bySlot = new Map(slots.map((s) => [s.name, s]));
    if (onHostBackend()) {
      this.flat = null;
      this.hostFlat = new Float32Array(offset);
      for (const s of slots) this.hostFlat.set(hostValues(s.variable), s.offset);
    } else {
      this.hostFlat = null;
      this.flat = tf.variable(
        tf.tidy(() => this.modelFlat()),
        false,
      );
    }
  }

  /** The decay the next update uses. */
  nextDecay(): number {
    return emaDecay(this.updates + 1, this.decay, this.tau);
  }

  /**
   * One update. `d` and `od` are the float32 [1]-shaped tensors of nextDecay() and 1 − it (the
   * trainer slices them from its step upload); without them they are made here.
   */
  update(d?: tf.Tensor, od?: tf.Tensor): void {
    const dv = this.nextDecay();
    this.updates += 1;
    if (this.hostFlat) {
      const all = this.hostFlat,
        fm = flatMath();
      // the uploaded float32 values when given, as the kernel reads them; flat-math rounds numbers to float32 alike
      const df = d ? hostValues(d)[0] : dv,
        odf = od ? hostValues(od)[0] : 1 - dv;
      for (const s of this.slots) fm.ema(all.subarray(s.offset, s.offset + s.size), hostValues(s.variable), df, odf);
    } else {
      const flat = this.flat!;
      tf.tidy(() => {
        const df = d ?? tf.scalar(dv),
          odf = od ?? tf.scalar(1 - dv);
        flat.assign(emaStep(flat, this.modelFlat(), df, odf));
      });
    }
    if (this.extras.size) {
      const host = this.model.hostState?.() ?? this.model.stateDict();
      for (const [k, e] of this.extras) {
        const m = host.get(k);
        if (!m || m.length !== e.length) throw new Error(`EMA: model state has no tensor ${k} of ${e.length} elements`);
        e.set(m);
      }
    }
  }

  /** The averaged state, keyed and ordered like the model's state dict: one read of the backend, fresh arrays. */
  get state(): Map<string, Float32Array> {
    const all = this.hostFlat ?? (this.flat!.dataSync() as Float32Array);
    const out = new Map<string, Float32Array>();
    for (const k of this.order) {
      const s = this.bySlot.get(k);
      out.set(k, s ? all.slice(s.offset, s.offset + s.size) : Float32Array.from(this.extras.get(k)!));
    }
    return out;
  }

  /** Replaces the averaged state (a checkpoint's); every entry must be present with its size. */
  load(state: ReadonlyMap<string, Float32Array>): void {
    const all = new Float32Array(this.hostFlat?.length ?? this.flat!.size);
    for (const k of this.order) {
      const src = state.get(k);
      const s = this.bySlot.get(k);
      const want = s ? s.size : this.extras.get(k)!.length;
      if (!src || src.length !== want) throw new RangeError(`EMA state lacks ${k} (${want} values)`);
      if (s) all.set(src, s.offset);
      else this.extras.get(k)!.set(src);
    }
    if (this.hostFlat) this.hostFlat.set(all);
    else tf.tidy(() => this.flat!.assign(tf.tensor1d(all)));
  }

  dispose(): void {
    this.flat?.dispose();
  }

  private modelFlat(): tf.Tensor1D {
    const parts = this.slots.map((s) => tf.reshape(s.variable, [s.size]));
    return (parts.length === 1 ? parts[0] : tf.concat(parts)) as tf.Tensor1D;
  }
}
