/** `flotilla export --weights W --include onnx,tfjs`: export.py for ONNX (W's path with .onnx) and TF.js (W's path + _web_model/). */
import { flagNumber, parseFlags, usageError } from './flags.ts';

const USAGE = `usage: flotilla export --weights FILE [--include onnx,tfjs] [options]

  --weights FILE     a YOLOv5 .pt (Ultralytics checkpoint or state dict) or a flotilla checkpoint
  --include LIST     formats, comma-separated: onnx, tfjs (default onnx)
  --cfg FILE         model yaml for a bare state-dict .pt (default: the architecture the file holds)
  --img PX|H,W       input size (default 640; each rounded up to a multiple of the stride)
  --batch N          static batch size (default 1; ONNX only: the TF.js model takes any batch)
  --opset N          ONNX opset, 11..21 (default 17, as export.py)
  --dynamic          ONNX: symbolic batch, height and width (export.py --dynamic)
  --output FILE      the .onnx to write (default: the weights' path with .onnx); tfjs writes
                     that path without .onnx + _web_model/ (model.json, group1-shard1of1.bin)
  --json             print only the result as JSON`;

export async function run(argv: string[]): Promise<number> {
  const parsed = parseFlags(
    argv,
    {
      weights: { type: 'string' },
      include: { type: 'string' },
      cfg: { type: 'string' },
      img: { type: 'string' },
      batch: { type: 'string' },
      opset: { type: 'string' },
      dynamic: { type: 'boolean' },
      output: { type: 'string' },
      json: { type: 'boolean' },
    },
    USAGE,
  );
  if ('exit' in parsed) return parsed.exit;
  const { values } = parsed;
  const s = (k: string) => values[k] as string | undefined;
  const weights = s('weights');
  if (!weights) return usageError('--weights is required', USAGE);
  const { checkInclude, exportRun, MIN_OPSET, MAX_OPSET } = await import('../../worker/engine/export/index.ts');
  let opts;
  try {
    const include = (s('include') ?? 'onnx')
      .split(',')
      .map((f) => f.trim())
      .filter(Boolean);
    checkInclude(include);
    const img = s('img')?.split(',');
    if (img && img.length > 2) throw new Error(`--img takes PX or H,W (got '${s('img')}')`);
    const sz = img?.map((v) => flagNumber('img', v, 32, { max: 8192 })!);
    opts = {
      weights,
      include,
      cfg: s('cfg'),
      ...(sz ? { img: [sz[0], sz[sz.length - 1]] as [number, number] } : {}),
      batch: flagNumber('batch', s('batch'), 1, { max: 1024 }),
      opset: flagNumber('opset', s('opset'), MIN_OPSET, { max: MAX_OPSET }),
      dynamic: Boolean(values.dynamic),
      output: s('output'),
    };
  } catch (e) {
    return usageError((e as Error).message, USAGE);
  }
  const { initBackend } = await import('../../worker/engine/backend.ts');
  await initBackend();
  const r = exportRun(opts);
  if (values.json) {
    console.log(JSON.stringify(r));
    return 0;
  }
  for (const x of r)
    console.log(
      `${x.format === 'tfjs' ? 'TensorFlow.js' : 'ONNX'} export success: saved as ${x.file} (${(x.bytes / 1e6).toFixed(1)} MB), input images [${x.input.join(', ')}], output output0 [${x.output.join(', ')}]`,
    );
  return 0;
}
