/**
 * `flotilla submit [FILE.json|yaml] [flags]`: submits a job and prints its id. Flags override
 * the file (or build the whole spec without one).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import type { JobSpecInput } from '../../shared/schemas/job.ts';
import { HeadClient, serverUrl } from './client.ts';

const USAGE = `usage: flotilla submit [FILE.json|FILE.yaml] [options]

  --server URL          head URL (env FLOTILLA_URL, default http://127.0.0.1:8080)
  --token T             REST token (env FLOTILLA_TOKEN, default: the one ~/.flotilla/credentials holds for
                        that URL); from another host: one from "flotilla token create --role submitter" on the head
  --name NAME           job name
  --workers N           trainer actors (ranks), default 1
  --min-workers N       elastic: shrink down to N on failure
  --gpus-per-rank N     GPUs each rank needs, 0-16 (default 0): placed only where that many are free
  --priority P          -100..100, higher first (default 0)
  --max-restarts N      gang restarts before the job fails (default 3)
  --checkpoint-every N  steps between checkpoints (default 10)
  --trainer KIND        logreg | yolov5 (default: from FILE, else logreg)
  --steps N             logreg: steps          --step-delay-ms MS  logreg: delay per step
  --epochs N            yolov5: epochs         --data PATH|synthetic  yolov5: dataset yaml
  --cfg NAME            yolov5: model yaml     --img N               yolov5: image size
  --batch N             total batch
  --sync MODE           allreduce (default) | local-sgd | diloco | streaming (docs/sync.md)
  --sync-every H        optimizer steps between outer syncs (default 16)
  --compress C          none | fp16 | bf16 | int8: what is sent (default none)
  --outer-lr X          --outer-momentum X   diloco/streaming outer step (0.7, 0.9)
  --fragments N         --overlap N          streaming: fragments (4), steps in flight (1)
  --json                print the whole job record instead of the id`;

const NUM = [
  'workers',
  'min-workers',
  'gpus-per-rank',
  'priority',
  'max-restarts',
  'checkpoint-every',
  'steps',
  'step-delay-ms',
  'epochs',
  'img',
  'batch',
  'sync-every',
  'outer-lr',
  'outer-momentum',
  'fragments',
  'overlap',
] as const;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      server: { type: 'string' },
      token: { type: 'string' },
      name: { type: 'string' },
      trainer: { type: 'string' },
      data: { type: 'string' },
      cfg: { type: 'string' },
      sync: { type: 'string' },
      compress: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
      ...Object.fromEntries(NUM.map((k) => [k, { type: 'string' as const }])),
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (positionals.length > 1) {
    console.error(USAGE);
    return 2;
  }
  const spec: Record<string, unknown> = positionals[0]
    ? ((parseYaml(readFileSync(positionals[0], 'utf8')) as Record<string, unknown>) ?? {})
    : {};
  const v = values as Record<string, string | boolean | undefined>;
  const num = (k: string) => {
    const x = v[k];
    if (typeof x !== 'string') return undefined;
    const n = Number(x);
    if (!Number.isFinite(n)) throw new Error(`--${k} must be a number, got '${x}'`);
    return n;
  };
  const top: Array<[string, string]> = [
    ['workers', 'workers'],
    ['min-workers', 'min_workers'],
    ['gpus-per-rank', 'gpus_per_rank'],
    ['priority', 'priority'],
    ['max-restarts', 'max_restarts'],
    ['checkpoint-every', 'checkpoint_every'],
  ];
  for (const [flag, key] of top) if (num(flag) !== undefined) spec[key] = num(flag);
  if (values.name) spec.name = values.name;
  const trainer: Record<string, unknown> = { ...((spec.trainer as Record<string, unknown> | undefined) ?? {}) };
  if (values.trainer) trainer.kind = values.trainer;
  trainer.kind ??= 'logreg';
  const tr: Array<[string, string]> = [
    ['steps', 'steps'],
    ['step-delay-ms', 'step_delay_ms'],
    ['epochs', 'epochs'],
    ['img', 'img'],
    ['batch', 'batch'],
  ];
  for (const [flag, key] of tr) if (num(flag) !== undefined) trainer[key] = num(flag);
  if (values.data) trainer.data = values.data;
  if (values.cfg) trainer.cfg = values.cfg;
  spec.trainer = trainer;
  // the head checks these with the job schema (a 400 names the bad field)
  const sync: Record<string, unknown> = { ...((spec.sync as Record<string, unknown> | undefined) ?? {}) };
  const sy: Array<[string, string]> = [
    ['sync-every', 'every'],
    ['outer-lr', 'outer_lr'],
    ['outer-momentum', 'outer_momentum'],
    ['fragments', 'fragments'],
    ['overlap', 'overlap'],
  ];
  for (const [flag, key] of sy) if (num(flag) !== undefined) sync[key] = num(flag);
  if (values.sync) sync.mode = values.sync;
  if (values.compress) sync.compress = values.compress;
  if (Object.keys(sync).length) spec.sync = sync;
  const job = await new HeadClient(serverUrl(values.server), values.token).submit(spec as JobSpecInput);
  console.log(values.json ? JSON.stringify(job, null, 2) : job.id);
  return 0;
}
