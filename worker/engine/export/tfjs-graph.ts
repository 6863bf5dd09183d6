/**
 * A small builder for a TensorFlow GraphDef in the JSON form TensorFlow.js graph models carry
 * (model.json `modelTopology`): nodes {name, op, input, attr}, Const nodes whose values live in
 * the weights manifest (float32 and int32, in one shard), and a Placeholder for the input.
 */
import { UniqueNames } from './unique-names.ts';

/** An attribute in GraphDef JSON (proto3 JSON mapping: int64 as strings, bytes as base64). */
export type TfAttr =
  | { type: 'DT_FLOAT' | 'DT_INT32' }
  | { i: string }
  | { f: number }
  | { b: boolean }
  | { s: string }
  | { list: { i: string[] } }
  | { shape: { dim: { size: string }[] } }
  | { tensor: { dtype: 'DT_FLOAT' | 'DT_INT32'; tensorShape: { dim?: { size: string }[] } } };

export interface TfNode {
  name: string;
  op: string;
  input: string[];
  attr: Record<string, TfAttr>;
}

export interface WeightEntry {
  name: string;
  shape: number[];
  dtype: 'float32' | 'int32';
}

export const attr = {
  float: { type: 'DT_FLOAT' } as TfAttr,
  int32: { type: 'DT_INT32' } as TfAttr,
  i: (v: number): TfAttr => ({ i: String(v) }),
  b: (v: boolean): TfAttr => ({ b: v }),
  s: (v: string): TfAttr => ({ s: Buffer.from(v).toString('base64') }),
  ints: (v: number[]): TfAttr => ({ list: { i: v.map(String) } }),
  shape: (v: number[]): TfAttr => ({ shape: { dim: v.map((d) => ({ size: String(d) })) } }),
};

export class TfGraphBuilder {
  readonly nodes: TfNode[] = [];
  readonly weights: WeightEntry[] = [];
  private readonly data: Uint8Array[] = [];
  private readonly names = new UniqueNames();

  /** A fresh node name starting with `base`. */
  name(base: string): string {
    return this.names.fresh(base);
  }

  /** Adds a node (T = float32 unless given); returns its name, which names its first output. */
  op(op: string, input: string[], attrs: Record<string, TfAttr> = {}, name?: string): string {
    const n = this.name(name ?? `${op}_${this.nodes.length}`);
    this.nodes.push({ name: n, op, input, attr: { T: attr.float, ...attrs } });
    return n;
  }

  placeholder(name: string, shape: number[]): string {
    const n = this.name(name);
    this.nodes.push({ name: n, op: 'Placeholder', input: [], attr: { dtype: attr.float, shape: attr.shape(shape) } });
    return n;
  }

  private constant(base: string, bytes: Uint8Array, shape: number[], dtype: 'float32' | 'int32'): string {
    const n = this.name(base);
    const dt = dtype === 'float32' ? 'DT_FLOAT' : 'DT_INT32';
    this.nodes.push({
      name: n,
      op: 'Const',
      input: [],
      attr: {
        dtype: { type: dt },
        value: { tensor: { dtype: dt, tensorShape: shape.length ? { dim: shape.map((d) => ({ size: String(d) })) } : {} } },
      },
    });
    this.weights.push({ name: n, shape, dtype });
    this.data.push(bytes);
    return n;
  }

  /** A float32 Const. */
  floats(base: string, data: Float32Array | number[], shape: number[]): string {
    const f = data instanceof Float32Array ? data : Float32Array.from(data);
    if (f.length !== shape.reduce((a, b) => a * b, 1)) throw new Error(`constant ${base}: ${f.length} values for shape [${shape}]`);
    return this.constant(base, new Uint8Array(f.buffer.slice(f.byteOffset, f.byteOffset + f.byteLength)), shape, 'float32');
  }

  /** An int32 Const (shapes, axes, slice bounds, permutations). */
  ints(base: string, data: number[], shape: number[] = [data.length]): string {
    const v = Int32Array.from(data);
    return this.constant(base, new Uint8Array(v.buffer), shape, 'int32');
  }

  /** The weights in manifest order, one little-endian buffer (tfjs reads typed arrays in the host's order). */
  weightData(): Uint8Array {
    const out = new Uint8Array(this.data.reduce((s, d) => s + d.length, 0));
    let off = 0;
    for (const d of this.data) {
      out.set(d, off);
      off += d.length;
    }
    return out;
  }
}
