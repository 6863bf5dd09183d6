/**
 * `flotilla synth --out DIR [--train N] [--val N] [--img PX] [--seed S] [--classes a,b,c]`:
 * writes the deterministic synthetic detection set (a YOLO dataset with DIR/data.yaml).
 */
import { z } from 'zod';
import { defineCommand, flag, parse } from './parse.ts';

export const spec = defineCommand({
  name: 'synth',
  synopsis: '--out DIR [--train N] [--val N] [--img PX] [--seed S] [--classes a,b,c]',
  flags: z.object({
    out: z.string().min(1).meta({ arg: 'DIR', description: 'output folder (DIR/images, DIR/labels, DIR/data.yaml)' }),
    train: flag.int('N', 'training images (default 256)', 0),
    val: flag.int('N', 'validation images (default 64)', 0),
    img: flag.int('PX', 'long side of each image (default 320)', 32),
    seed: flag.int('S', 'seed; the same seed writes the same bytes (default 0)', 0),
    classes: flag.str(
      'LIST',
      'comma-separated shapes among circle, square, triangle, diamond, cross, ring, hexagon\n(default circle,square,triangle)',
    ),
  }),
});

export async function run(argv: string[]): Promise<number> {
  const p = parse(spec, argv);
  if (!p.ok) return p.exit;
  const values = p.flags;
  const opts = {
    dir: values.out,
    train: values.train ?? 256,
    val: values.val ?? 64,
    img: values.img ?? 320,
    seed: values.seed ?? 0,
    ...(values.classes
      ? {
          classes: values.classes
            .split(',')
            .map((c) => c.trim())
            .filter((c) => c),
        }
      : {}),
  };
  const { generateSyntheticDataset } = await import('../../worker/engine/data/index.ts');
  const t0 = performance.now();
  const ds = await generateSyntheticDataset(opts);
  console.log(
    `wrote ${opts.train} train + ${opts.val} val images (${ds.objects.train} + ${ds.objects.val} objects, classes ${ds.names.join(', ')}) in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
  console.log(ds.yamlPath);
  return 0;
}
