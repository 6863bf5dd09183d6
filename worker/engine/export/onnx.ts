/** `export.py --include onnx`: a YoloModel serialised as an ONNX ModelProto (see onnx-yolo.ts for the graph). */
import { GraphBuilder } from './onnx-graph.ts';
import { DataType, encodeModel, type ValueInfoMsg } from './onnx-proto.ts';
import { MAX_OPSET, MIN_OPSET, yoloToOnnx } from './onnx-yolo.ts';
import type { YoloModel } from '../model/index.ts';

/** export.py's default opset. */
export const DEFAULT_OPSET = 17;

export interface OnnxOptions {
  /** input height and width, multiples of the model's largest stride */
  readonly img: [number, number];
  /** static batch size (default 1); ignored when dynamic */
  readonly batch?: number;
  /** default 17 */
  readonly opset?: number;
  /** symbolic batch/height/width on `images` and batch/anchors on `output0`, as export.py --dynamic */
  readonly dynamic?: boolean;
  /** class names for the metadata (default class0 …) */
  readonly names?: readonly string[];
}

/** The IR version that goes with an opset (onnx's release table); onnxruntime refuses a newer IR than it knows. */
export function irVersionFor(opset: number): number {
  if (opset <= 11) return 6;
  if (opset <= 14) return 7;
  if (opset <= 18) return 8;
  if (opset <= 20) return 9;
  return 10;
}

const tensorInfo = (name: string, dims: (number | string)[]): ValueInfoMsg => ({
  name,
  type: {
    tensorType: { elemType: DataType.FLOAT, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } },
  },
});

/** Python's repr of export.py's names dict, {0: 'person', 1: 'bicycle'}, as its metadata holds it. */
function namesRepr(names: readonly string[]): string {
  return `{${names.map((n, i) => `${i}: '${n.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`).join(', ')}}`;
}

/** Encodes `model` as an ONNX model (bytes of a ModelProto). */
export function exportOnnx(model: YoloModel, o: OnnxOptions): Uint8Array {
  const opset = o.opset ?? DEFAULT_OPSET;
  if (!Number.isInteger(opset) || opset < MIN_OPSET || opset > MAX_OPSET)
    throw new RangeError(`--opset must be an integer in ${MIN_OPSET}..${MAX_OPSET} (got ${opset})`);
  const batch = o.batch ?? 1;
  if (!Number.isInteger(batch) || batch < 1) throw new RangeError(`--batch must be a positive integer (got ${batch})`);
  const [h, w] = o.img;
  const g = new GraphBuilder();
  g.name('images');
  const out = yoloToOnnx(g, model, h, w, opset, o.dynamic ?? false);
  const n = model.strides.reduce((s, st) => s + model.na * (h / st) * (w / st), 0);
  const names = o.names ?? Array.from({ length: model.nc }, (_, i) => `class${i}`);
  return encodeModel({
    irVersion: irVersionFor(opset),
    opsetImport: [{ domain: '', version: opset }],
    producerName: 'flotilla',
    producerVersion: '0.1.0',
    docString: 'YOLOv5 exported by flotilla export (inference mode: decoded xywh, objectness, class scores)',
    graph: {
      name: 'main_graph',
      node: g.nodes,
      initializer: g.initializers,
      input: [tensorInfo('images', o.dynamic ? ['batch', 3, 'height', 'width'] : [batch, 3, h, w])],
      output: [tensorInfo(out, o.dynamic ? ['batch', 'anchors', model.no] : [batch, n, model.no])],
    },
    metadataProps: [
      { key: 'stride', value: String(Math.max(...model.strides)) },
      { key: 'names', value: namesRepr(names) },
    ],
  });
}
