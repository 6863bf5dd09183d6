/** A small builder for an ONNX graph: nodes with unique names, float32/int64 initializers, attributes. */
import { AttrType, DataType, type AttributeMsg, type NodeMsg, type TensorMsg } from './onnx-proto.ts';
import { UniqueNames } from './unique-names.ts';

/** An attribute value: an integer is INT, an array INTS, a string STRING, `{ float }` FLOAT. */
export type AttrValue = number | number[] | string | { float: number };

function attribute(name: string, v: AttrValue): AttributeMsg {
  if (typeof v === 'string') return { name, type: AttrType.STRING, s: new TextEncoder().encode(v) };
  if (Array.isArray(v)) return { name, type: AttrType.INTS, ints: v };
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) throw new Error(`attribute ${name}: ${v} is not an integer (pass { float: x } for a FLOAT)`);
    return { name, type: AttrType.INT, i: v };
  }
  return { name, type: AttrType.FLOAT, f: v.float };
}

export class GraphBuilder {
  readonly nodes: NodeMsg[] = [];
  readonly initializers: TensorMsg[] = [];
  private readonly names = new UniqueNames();

  /** A fresh value name starting with `base`. */
  name(base: string): string {
    return this.names.fresh(base);
  }

  /** Adds a node; returns its single output's name. */
  op(opType: string, inputs: string[], attrs: Record<string, AttrValue> = {}, outName?: string): string {
    const out = outName ?? this.name(`/${opType}_${this.nodes.length}`);
    if (outName) this.names.take(outName);
    this.nodes.push({
      name: `${opType}_${this.nodes.length}`,
      opType,
      input: inputs,
      output: [out],
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
    return out;
  }

  /** A float32 initializer. */
  floats(base: string, data: Float32Array | number[], dims: number[]): string {
    const f = data instanceof Float32Array ? data : Float32Array.from(data);
    if (f.length !== dims.reduce((a, b) => a * b, 1)) throw new Error(`initializer ${base}: ${f.length} values for dims [${dims}]`);
    const name = this.name(base);
    this.initializers.push({ name, dims, dataType: DataType.FLOAT, rawData: le(f.buffer, f.byteOffset, f.byteLength) });
    return name;
  }

  /** An int64 initializer (shapes, axes, slice bounds). */
  int64s(base: string, data: number[], dims: number[] = [data.length]): string {
    const b = new BigInt64Array(data.map((v) => BigInt(v)));
    const name = this.name(base);
    this.initializers.push({ name, dims, dataType: DataType.INT64, rawData: le(b.buffer, b.byteOffset, b.byteLength) });
    return name;
  }
}

/** raw_data is little-endian; typed arrays are in the host's order, which is little-endian on every platform Node runs on here. */
function le(buf: ArrayBufferLike, off: number, len: number): Uint8Array {
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) throw new Error('ONNX export needs a little-endian host');
  return new Uint8Array(buf.slice(off, off + len));
}
