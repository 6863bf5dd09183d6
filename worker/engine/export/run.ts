/**
 * `flotilla export`: export.py for ONNX and TensorFlow.js. Reads weights (.pt or a flotilla checkpoint)
 * and writes FILE.onnx and FILE_web_model/ (model.json + group1-shard1of1.bin) beside them.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import { checkImgSize } from '../detect/predict.ts';
import { modelFromPretrained, readPretrained } from '../weights/index.ts';
import { exportOnnx } from './onnx.ts';
import { exportTfjs, TFJS_SHARD } from './tfjs.ts';

/** The formats `--include` knows. */
export const EXPORT_FORMATS = ['onnx', 'tfjs'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];
/** export.py's other formats, named so that asking for one gives a clear refusal. */
const NOT_BUILT = ['torchscript', 'openvino', 'engine', 'coreml', 'saved_model', 'pb', 'tflite', 'edgetpu', 'paddle'];

export class ExportError extends Error {
  override name = 'ExportError';
}

export interface ExportOptions {
  readonly weights: string;
  /** model yaml for a bare state-dict .pt */
  readonly cfg?: string;
  readonly include: readonly string[];
  /** [h, w]; each rounded up to a multiple of the stride (default 640×640) */
  readonly img?: [number, number];
  readonly batch?: number;
  readonly opset?: number;
  readonly dynamic?: boolean;
  /** the ONNX file (default: the weights' path with .onnx); the TF.js folder is its path without .onnx, + _web_model */
  readonly output?: string;
}

export interface ExportResult {
  format: ExportFormat;
  /** the ONNX file, or the TF.js folder's model.json */
  file: string;
  /** bytes written (TF.js: model.json and the shard) */
  bytes: number;
  /** the input shape written: ONNX [B, 3, H, W] (B, H, W symbolic when dynamic), TF.js NHWC ['batch', H, W, 3] */
  input: (number | string)[];
  /** the output shape, [B, N, 5 + nc] */
  output: (number | string)[];
}

/** Checks `include` against the known formats; throws an ExportError naming what is not built. */
export function checkInclude(include: readonly string[]): ExportFormat[] {
  if (!include.length) throw new ExportError('--include names no format (onnx)');
  return include.map((f) => {
    const k = f.toLowerCase();
    if ((EXPORT_FORMATS as readonly string[]).includes(k)) return k as ExportFormat;
    if (NOT_BUILT.includes(k)) throw new ExportError(`--include ${f}: not built yet; flotilla exports onnx and tfjs`);
    throw new ExportError(`--include ${f}: unknown format (known: ${EXPORT_FORMATS.join(', ')})`);
  });
}

export function exportRun(o: ExportOptions): ExportResult[] {
  const formats = checkInclude(o.include);
  const w = readPretrained(o.weights);
  const model = modelFromPretrained(w, o.cfg);
  try {
    const stride = Math.max(...model.strides);
    const [h, wd] = (o.img ?? [640, 640]).map((v) => checkImgSize(v, stride));
    const batch = o.batch ?? 1;
    const ext = extname(o.output ?? o.weights);
    const base = (p: string) => (ext ? p.slice(0, -ext.length) : p);
    const n = model.strides.reduce((s, st) => s + model.na * (h / st) * (wd / st), 0);
    const names = w.names ? { names: w.names } : {};
    return formats.map((format) => {
      if (format === 'tfjs') {
        const { json, weights } = exportTfjs(model, { img: [h, wd], ...names });
        const folder = `${base(o.output ?? o.weights)}_web_model`;
        mkdirSync(folder, { recursive: true });
        const text = JSON.stringify(json);
        writeFileSync(join(folder, TFJS_SHARD), weights);
        writeFileSync(join(folder, 'model.json'), text);
        return {
          format,
          file: join(folder, 'model.json'),
          bytes: text.length + weights.length,
          input: ['batch', h, wd, 3],
          output: ['batch', n, model.no],
        };
      }
      const bytes = exportOnnx(model, {
        img: [h, wd],
        batch,
        ...(o.opset !== undefined ? { opset: o.opset } : {}),
        dynamic: o.dynamic ?? false,
        ...names,
      });
      const file = o.output ?? `${base(o.weights)}.onnx`;
      writeFileSync(file, bytes);
      return {
        format,
        file,
        bytes: bytes.length,
        input: o.dynamic ? ['batch', 3, 'height', 'width'] : [batch, 3, h, wd],
        output: o.dynamic ? ['batch', 'anchors', model.no] : [batch, n, model.no],
      };
    });
  } finally {
    model.dispose();
  }
}
