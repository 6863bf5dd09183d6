/** `flotilla export`: export.py for ONNX. Reads weights (.pt or a flotilla checkpoint) and writes FILE.onnx beside them. */
import { writeFileSync } from 'node:fs';
import { extname } from 'node:path';
import { checkImgSize } from '../detect/predict.ts';
import { modelFromPretrained, readPretrained } from '../weights/index.ts';
import { exportOnnx } from './onnx.ts';

/** The formats `--include` knows; only ONNX is written so far. */
export const EXPORT_FORMATS = ['onnx'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];
/** export.py's other formats, named so that asking for one gives a clear refusal. */
const NOT_BUILT = ['torchscript', 'openvino', 'engine', 'coreml', 'saved_model', 'pb', 'tflite', 'edgetpu', 'tfjs', 'paddle'];

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
  /** output file (default: the weights' path with .onnx) */
  readonly output?: string;
}

export interface ExportResult {
  format: ExportFormat;
  file: string;
  bytes: number;
  /** the input shape written, [B, 3, H, W] (B, H, W symbolic when dynamic) */
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
    if (NOT_BUILT.includes(k)) throw new ExportError(`--include ${f}: not built yet; flotilla exports onnx only`);
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
    return formats.map((format) => {
      const bytes = exportOnnx(model, {
        img: [h, wd],
        batch,
        ...(o.opset !== undefined ? { opset: o.opset } : {}),
        dynamic: o.dynamic ?? false,
        ...(w.names ? { names: w.names } : {}),
      });
      const ext = extname(o.weights);
      const file = o.output ?? `${ext ? o.weights.slice(0, -ext.length) : o.weights}.onnx`;
      writeFileSync(file, bytes);
      const n = model.strides.reduce((s, st) => s + model.na * (h / st) * (wd / st), 0);
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
