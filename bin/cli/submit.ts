/**
 * `flotilla submit [FILE.json|yaml] [flags]`: submits a job and prints its id. Flags override
 * the file (or build the whole spec without one).
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { parse as parseYaml } from 'yaml';
import type { JobSpecInput } from '../../shared/schemas/job.ts';
import { HeadClient, serverUrl } from './client.ts';
import { clientFlags, defineCommand, flag, parse, UsageError } from './parse.ts';

// numbers are only read here (a text that is no number: exit 2); their ranges are the job schema's, checked by the head (a 400 names the field)
export const spec = defineCommand({
  name: 'submit',
  synopsis: '[FILE.json|FILE.yaml] [options]',
  intro: '  FILE: a job spec (JSON or YAML); the flags override it, or build the whole spec without one',
  flags: z.object({
    server: clientFlags.server,
    token: flag.str(
      'T',
      'REST token (env FLOTILLA_TOKEN, default: the one ~/.flotilla/credentials holds for\nthat URL); from another host: one from "flotilla token create --role submitter" on the head',
    ),
    name: flag.str('NAME', 'job name'),
    workers: flag.num('N', 'trainer actors (ranks), default 1'),
    'min-workers': flag.num('N', 'elastic: shrink down to N on failure'),
    'gpus-per-rank': flag.num('N', 'GPUs each rank needs, 0-16 (default 0): placed only where that many are free'),
    priority: flag.num('P', '-100..100, higher first (default 0)'),
    'max-restarts': flag.num('N', 'gang restarts before the job fails (default 3)'),
    'checkpoint-every': flag.num('N', 'steps between checkpoints (default 10)'),
    trainer: flag.str('KIND', 'logreg | yolov5 (default: from FILE, else logreg)'),
    steps: flag.num('N', 'logreg: steps'),
    'step-delay-ms': flag.num('MS', 'logreg: delay per step'),
    epochs: flag.num('N', 'yolov5: epochs'),
    data: flag.str('PATH', 'yolov5: dataset yaml, or synthetic'),
    cfg: flag.str('NAME', 'yolov5: model yaml'),
    img: flag.num('N', 'yolov5: image size'),
    batch: flag.num('N', 'total batch'),
    sync: flag.str('MODE', 'allreduce (default) | local-sgd | diloco | streaming (docs/sync.md)'),
    'sync-every': flag.num('H', 'optimizer steps between outer syncs (default 16)'),
    compress: flag.str('C', 'none | fp16 | bf16 | int8: what is sent (default none)'),
    'outer-lr': flag.num('X', 'diloco/streaming outer learning rate (default 0.7)'),
    'outer-momentum': flag.num('X', 'diloco/streaming outer momentum (default 0.9)'),
    fragments: flag.num('N', 'streaming: fragments (default 4)'),
    overlap: flag.num('N', 'streaming: steps in flight (default 1)'),
    json: flag.bool('print the whole job record instead of the id'),
  }),
  args: z.array(z.string()).max(1, 'expected at most one FILE'),
});

export async function run(argv: string[]): Promise<number> {
  const p = parse(spec, argv);
  if (!p.ok) return p.exit;
  const values = p.flags;
  const positionals = p.args;
  let text: string | undefined;
  try {
    text = positionals[0] === undefined ? undefined : readFileSync(positionals[0], 'utf8');
  } catch (e) {
    throw new UsageError(spec, [`cannot read ${positionals[0]}: ${(e as Error).message}`]);
  }
  const job: Record<string, unknown> = text === undefined ? {} : ((parseYaml(text) as Record<string, unknown>) ?? {});
  const num = (k: string): number | undefined => (values as Record<string, unknown>)[k] as number | undefined;
  const top: Array<[string, string]> = [
    ['workers', 'workers'],
    ['min-workers', 'min_workers'],
    ['gpus-per-rank', 'gpus_per_rank'],
    ['priority', 'priority'],
    ['max-restarts', 'max_restarts'],
    ['checkpoint-every', 'checkpoint_every'],
  ];
  for (const [flag, key] of top) if (num(flag) !== undefined) job[key] = num(flag);
  if (values.name) job.name = values.name;
  const trainer: Record<string, unknown> = { ...((job.trainer as Record<string, unknown> | undefined) ?? {}) };
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
  job.trainer = trainer;
  // the head checks these with the job schema (a 400 names the bad field)
  const sync: Record<string, unknown> = { ...((job.sync as Record<string, unknown> | undefined) ?? {}) };
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
  if (Object.keys(sync).length) job.sync = sync;
  const rec = await new HeadClient(serverUrl(values.server), values.token).submit(job as JobSpecInput);
  console.log(values.json ? JSON.stringify(rec, null, 2) : rec.id);
  return 0;
}
