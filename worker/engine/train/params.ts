/**
 * The flat parameter vector: every trainable (not frozen) variable, in optimizer-group order
 * (0 biases, 1 weights, 2 BN weights) and model order within a group. Gradients, momentum and
 * the allreduce buffer all share this layout.
 */
import * as tf from '@tensorflow/tfjs';
import { isFrozen } from './freeze.ts';
import type { ParamGroupRange } from './optimizer.ts';
import type { KindedVariable, NamedVariable, ParameterGroups } from './types.ts';

export interface FlatEntry extends NamedVariable {
  readonly group: number;
  readonly offset: number;
  readonly size: number;
}

export class ParamLayout {
  readonly entries: readonly FlatEntry[];
  readonly size: number;
  readonly ranges: readonly ParamGroupRange[];
  /** parameters per group, for reporting */
  readonly groupSizes: readonly [number, number, number];

  constructor(groups: ParameterGroups, frozenPrefixes: readonly string[] = []) {
    const ordered: Array<readonly NamedVariable[]> = [groups.biases, groups.weights, groups.bnWeights];
    const entries: FlatEntry[] = [];
    const ranges: ParamGroupRange[] = [];
    const sizes: [number, number, number] = [0, 0, 0];
    let offset = 0;
    ordered.forEach((list, group) => {
      const begin = offset;
      for (const v of list) {
        if (isFrozen(v.name, frozenPrefixes)) continue;
        const size = v.variable.size;
        entries.push({ name: v.name, variable: v.variable, group, offset, size });
        offset += size;
      }
      ranges.push({ begin, end: offset, group });
      sizes[group] = offset - begin;
    });
    const seen = new Set<string>();
    for (const e of entries) {
      if (seen.has(e.name)) throw new Error(`parameter ${e.name} appears twice in the optimizer groups`);
      seen.add(e.name);
    }
    this.entries = entries;
    this.size = offset;
    this.ranges = ranges;
    this.groupSizes = sizes;
  }

  /** Copies the current variable values into `out` (allocated when omitted). */
  read(out: Float32Array = new Float32Array(this.size)): Float32Array {
    for (const e of this.entries) out.set(e.variable.dataSync() as Float32Array, e.offset);
    return out;
  }

  /** Assigns every variable from the flat vector. */
  write(flat: Float32Array): void {
    for (const e of this.entries) {
      const t = tf.tensor(flat.subarray(e.offset, e.offset + e.size), e.variable.shape, 'float32');
      e.variable.assign(t);
      t.dispose();
    }
  }

  /** Names in layout order: stored with the optimizer state to check it fits on load. */
  names(): string[] {
    return this.entries.map((e) => e.name);
  }
}

/** Sorts a model's named tensors into the three optimizer groups (buffers are left out). */
export function parameterGroups(tensors: readonly KindedVariable[]): ParameterGroups {
  const pick = (k: KindedVariable['kind']) => tensors.filter((t) => t.kind === k).map((t) => ({ name: t.name, variable: t.variable }));
  return { weights: pick('weight'), bnWeights: pick('bnWeight'), biases: pick('bias') };
}
