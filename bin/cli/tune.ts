/**
 * `flotilla tune STUDY.yaml`: starts a hyperparameter study (docs/tune.md), follows it (one
 * line per trial as it starts and ends), writes evolve.csv, hyp_evolve.yaml and evolve.svg into --out
 * (default runs/tune/<study id>) and prints the best trial. `--base JOB.yaml` with flags builds
 * the study without a file; `--follow ID` follows a running study; `--cancel ID` cancels one.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { parse as parseYaml } from 'yaml';
import type { StudyRecord, StudySpecInput, Trial } from '../../shared/schemas/study.ts';
import { HeadClient, serverUrl } from './client.ts';
import { clientFlags, defineCommand, flag, parse, usageError } from './parse.ts';

export const spec = defineCommand({
  name: 'tune',
  synopsis: ['STUDY.yaml [options]', '--base JOB.yaml --space yolov5|KEY=MIN:MAX,… --trials N [options]', '--follow ID | --cancel ID'],
  intro: `  STUDY.yaml: { base: <job spec>, space: yolov5 | { KEY: [MIN, MAX] }, method: evolve|random,
              trials: N, concurrency: K, seed: S }`,
  // numbers are read here; their ranges are the study schema's, checked by the head (a 400 names the field)
  flags: z.object({
    base: flag.str('JOB.yaml', "the job every trial is made from (flotilla submit's file)"),
    space: flag.str('S', "yolov5 (train.py's whole evolve table) or KEY=MIN:MAX,… (e.g. lr0=0.001:0.05)"),
    method: flag.str('M', 'evolve (default) | random'),
    trials: flag.int('N', 'trials in all'),
    concurrency: flag.int('K', 'trials at once (default 1)'),
    seed: flag.int('S', 'sampling seed (default 0)'),
    out: flag.str('DIR', 'where evolve.csv, hyp_evolve.yaml and evolve.svg go (default runs/tune/<study id>)'),
    detach: flag.bool('print the study id and return'),
    'poll-ms': flag.int('MS', 'how often to look at the study (default 2000)', 1),
    follow: flag.str('ID', 'follow a running study'),
    cancel: flag.str('ID', 'cancel a study'),
    ...clientFlags,
    json: flag.bool('print the final study record'),
  }),
  args: z.array(z.string()).max(1, 'expected at most one STUDY.yaml'),
});

function spaceFlag(s: string): StudySpecInput['space'] {
  if (s === 'yolov5') return 'yolov5';
  return Object.fromEntries(
    s.split(',').map((kv) => {
      const m = /^([A-Za-z_][\w]*)=([^:]+):(.+)$/.exec(kv.trim());
      if (!m || !Number.isFinite(Number(m[2])) || !Number.isFinite(Number(m[3]))) throw new Error(`--space: '${kv}' is not KEY=MIN:MAX`);
      return [m[1], [Number(m[2]), Number(m[3])]];
    }),
  );
}

function trialLine(t: Trial): string {
  const hyp = Object.entries(t.hyp)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  const fit = t.fitness === null ? '' : ` fitness=${t.fitness.toPrecision(5)}`;
  return `trial ${String(t.n).padStart(3)} ${t.job_id} ${t.state}${fit} ${hyp}${t.message ? ` (${t.message})` : ''}`;
}

async function follow(api: HeadClient, id: string, pollMs: number): Promise<StudyRecord> {
  const shown = new Map<string, string>();
  for (;;) {
    const st = await api.study(id);
    for (const t of st.trials) {
      const key = `${t.job_id} ${t.state} ${t.fitness}`;
      if (shown.get(String(t.n)) !== key) {
        shown.set(String(t.n), key);
        console.log(trialLine(t));
      }
    }
    if (st.state !== 'running') return st;
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

export async function run(argv: string[]): Promise<number> {
  const p = parse(spec, argv);
  if (!p.ok) return p.exit;
  const values = p.flags;
  const positionals = p.args;
  const api = new HeadClient(serverUrl(values.server), values.token);
  if (values.cancel) {
    const st = await api.cancelStudy(values.cancel);
    console.log(`${st.id} ${st.state}`);
    return 0;
  }
  let id = values.follow;
  if (!id) {
    if (!positionals[0] && !values.base) return usageError(spec, 'give STUDY.yaml, or --base JOB.yaml with --space and --trials');
    const study: Record<string, unknown> = positionals[0]
      ? ((parseYaml(readFileSync(positionals[0], 'utf8')) as Record<string, unknown>) ?? {})
      : {};
    if (values.base) study.base = parseYaml(readFileSync(values.base, 'utf8'));
    if (values.space) {
      try {
        study.space = spaceFlag(values.space);
      } catch (e) {
        return usageError(spec, (e as Error).message);
      }
    }
    if (values.method) study.method = values.method;
    for (const k of ['trials', 'concurrency', 'seed'] as const) if (values[k] !== undefined) study[k] = values[k];
    // the head checks the whole study with its schema (a 400 names the field)
    const st = await api.startStudy(study as StudySpecInput);
    id = st.id;
    console.log(values.detach ? st.id : `study ${st.id}: ${st.spec.trials} trials, ${st.spec.concurrency} at a time, ${st.spec.method}`);
    if (values.detach) return 0;
  }
  const st = await follow(api, id, values['poll-ms'] ?? 2000);
  const out = values.out ?? join('runs', 'tune', st.id);
  mkdirSync(out, { recursive: true });
  for (const name of ['evolve.csv', 'hyp_evolve.yaml', 'evolve.svg']) {
    try {
      writeFileSync(join(out, name), await api.studyArtifact(st.id, name));
    } catch (e) {
      console.error(`${name}: ${(e as Error).message}`);
    }
  }
  const best = st.best === undefined ? undefined : st.trials[st.best];
  if (values.json) console.log(JSON.stringify(st, null, 2));
  else {
    console.log(
      `study ${st.id} ${st.state}: ${st.trials.filter((t) => t.fitness !== null).length} of ${st.spec.trials} trials scored; artifacts in ${out}`,
    );
    if (best) console.log(`best: trial ${best.n} (job ${best.job_id}) fitness ${best.fitness} ${JSON.stringify(best.hyp)}`);
  }
  return st.state === 'succeeded' ? 0 : 1;
}
