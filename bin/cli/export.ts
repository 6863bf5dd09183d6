/** `flotilla export --weights W --include onnx,tfjs`: export.py for ONNX (W's path with .onnx) and TF.js (W's path + _web_model/). */
import { z } from 'zod';
import { defineCommand, flag, intList, parse, usageError } from './parse.ts';

export const spec = defineCommand({
  name: 'export',
  synopsis: '--weights FILE [--include onnx,tfjs] [options]',
  flags: z.object({
    weights: z
      .string()
      .min(1)
      .meta({ arg: 'FILE', description: 'a YOLOv5 .pt (Ultralytics checkpoint or state dict) or a flotilla checkpoint' }),
    include: flag.str('LIST', 'formats, comma-separated: onnx, tfjs (default onnx)'),
    cfg: flag.str('FILE', 'model yaml for a bare state-dict .pt (default: the architecture the file holds)'),
    img: intList('PX|H,W', 'input size (default 640; each rounded up to a multiple of the stride)', 32, 8192).refine(
      (v) => v === undefined || v.length <= 2,
      { error: 'takes PX or H,W' },
    ),
    batch: flag.int('N', 'static batch size (default 1; ONNX only: the TF.js model takes any batch)', 1, 1024),
    opset: flag.int('N', 'ONNX opset, 11..21 (default 17, as export.py)'),
    dynamic: flag.bool('ONNX: symbolic batch, height and width (export.py --dynamic)'),
    output: flag.str(
      'FILE',
      "the .onnx to write (default: the weights' path with .onnx); tfjs writes that path without .onnx + _web_model/ (model.json, group1-shard1of1.bin)",
    ),
    json: flag.bool('print only the result as JSON'),
  }),
});

export async function run(argv: string[]): Promise<number> {
  const p = parse(spec, argv);
  if (!p.ok) return p.exit;
  const values = p.flags;
  const { checkInclude, exportRun, MIN_OPSET, MAX_OPSET } = await import('../../worker/engine/export/index.ts');
  const include = (values.include ?? 'onnx')
    .split(',')
    .map((f) => f.trim())
    .filter(Boolean);
  try {
    checkInclude(include);
  } catch (e) {
    return usageError(spec, (e as Error).message);
  }
  const { opset } = values;
  if (opset !== undefined && (opset < MIN_OPSET || opset > MAX_OPSET))
    return usageError(spec, `--opset: expected an integer in [${MIN_OPSET}, ${MAX_OPSET}], got '${opset}'`);
  const sz = values.img;
  const opts = {
    weights: values.weights,
    include,
    cfg: values.cfg,
    ...(sz ? { img: [sz[0]!, sz[sz.length - 1]!] as [number, number] } : {}),
    batch: values.batch,
    opset,
    dynamic: Boolean(values.dynamic),
    output: values.output,
  };
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
