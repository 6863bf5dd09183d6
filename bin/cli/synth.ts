/**
 * `flotilla synth --out DIR [--train N] [--val N] [--img PX] [--seed S] [--classes a,b,c]`:
 * writes the deterministic synthetic detection set (a YOLO dataset with DIR/data.yaml).
 */
import { parseArgs } from 'node:util';

const USAGE = `usage: flotilla synth --out DIR [--train N] [--val N] [--img PX] [--seed S] [--classes a,b,c]

  --out DIR        output folder (DIR/images, DIR/labels, DIR/data.yaml)
  --train N        training images (default 256)
  --val N          validation images (default 64)
  --img PX         long side of each image (default 320)
  --seed S         seed; the same seed writes the same bytes (default 0)
  --classes LIST   comma-separated shapes among circle, square, triangle, diamond, cross, ring, hexagon
                   (default circle,square,triangle)`;

function int(name: string, v: string | undefined, dflt: number, min: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min} (got '${v}')`);
  return n;
}

export async function run(argv: string[]): Promise<number> {
  let values: { out?: string; train?: string; val?: string; img?: string; seed?: string; classes?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        out: { type: 'string' },
        train: { type: 'string' },
        val: { type: 'string' },
        img: { type: 'string' },
        seed: { type: 'string' },
        classes: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (e) {
    console.error(`${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (!values.out) {
    console.error(`--out is required\n\n${USAGE}`);
    return 2;
  }
  let opts;
  try {
    opts = {
      dir: values.out,
      train: int('train', values.train, 256, 0),
      val: int('val', values.val, 64, 0),
      img: int('img', values.img, 320, 32),
      seed: int('seed', values.seed, 0, 0),
      ...(values.classes
        ? {
            classes: values.classes
              .split(',')
              .map((c) => c.trim())
              .filter((c) => c),
          }
        : {}),
    };
  } catch (e) {
    console.error(`${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { generateSyntheticDataset } = await import('../../worker/engine/data/index.ts');
  const t0 = performance.now();
  const ds = await generateSyntheticDataset(opts);
  console.log(
    `wrote ${opts.train} train + ${opts.val} val images (${ds.objects.train} + ${ds.objects.val} objects, classes ${ds.names.join(', ')}) in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
  console.log(ds.yamlPath);
  return 0;
}
