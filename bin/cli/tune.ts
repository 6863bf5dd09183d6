/**
 * `flotilla tune STUDY.yaml`: starts a hyperparameter study (docs/tune.md), follows it (one
 * line per trial as it starts and ends), writes evolve.csv, hyp_evolve.yaml and evolve.svg into --out
 * (default runs/tune/<study id>) and prints the best trial. `--base JOB.yaml` with flags builds
 * the study without a file; `--follow ID` follows a running study; `--cancel ID` cancels one.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import type { StudyRecord, StudySpecInput, Trial } from '../../shared/schemas/study.ts';
import { HeadClient, serverUrl } from './client.ts';

const USAGE = `usage: flotilla tune STUDY.yaml [options]
       flotilla tune --base JOB.yaml --space yolov5|KEY=MIN:MAX,… --trials N [options]
       flotilla tune --follow ID | --cancel ID

  STUDY.yaml            { base: <job spec>, space: yolov5 | { KEY: [MIN, MAX] }, method: evolve|random,
                        trials: N, concurrency: K, seed: S }
  --base JOB.yaml       the job every trial is made from (flotilla submit's file)
  --space S             yolov5 (train.py's whole evolve table) or KEY=MIN:MAX,… (e.g. lr0=0.001:0.05)
  --method M            evolve (default) | random
  --trials N            trials in all        --concurrency K   trials at once (default 1)
  --seed S              sampling seed (default 0)
  --out DIR             where evolve.csv, hyp_evolve.yaml and evolve.svg go (default runs/tune/<study id>)
  --detach              print the study id and return
  --poll-ms MS          how often to look at the study (default 2000)
  --server URL          head URL (env FLOTILLA_URL)   --token T   REST token (env FLOTILLA_TOKEN)
  --json                print the final study record`;

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
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      server: { type: 'string' },
      token: { type: 'string' },
      base: { type: 'string' },
      space: { type: 'string' },
      method: { type: 'string' },
      trials: { type: 'string' },
      concurrency: { type: 'string' },
      seed: { type: 'string' },
      out: { type: 'string' },
      'poll-ms': { type: 'string' },
      follow: { type: 'string' },
      cancel: { type: 'string' },
      detach: { type: 'boolean' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const api = new HeadClient(serverUrl(values.server), values.token);
  if (values.cancel) {
    const st = await api.cancelStudy(values.cancel);
    console.log(`${st.id} ${st.state}`);
    return 0;
  }
  let id = values.follow;
  if (!id) {
    if (positionals.length > 1 || (!positionals[0] && !values.base)) {
      console.error(USAGE);
      return 2;
    }
    const spec: Record<string, unknown> = positionals[0]
      ? ((parseYaml(readFileSync(positionals[0], 'utf8')) as Record<string, unknown>) ?? {})
      : {};
    if (values.base) spec.base = parseYaml(readFileSync(values.base, 'utf8'));
    if (values.space) spec.space = spaceFlag(values.space);
    if (values.method) spec.method = values.method;
    for (const k of ['trials', 'concurrency', 'seed'] as const) {
      if (values[k] === undefined) continue;
      const n = Number(values[k]);
      if (!Number.isInteger(n)) throw new Error(`--${k} must be an integer, got '${values[k]}'`);
      spec[k] = n;
    }
    // the head checks the whole study with its schema (a 400 names the field)
    const st = await api.startStudy(spec as StudySpecInput);
    id = st.id;
    console.log(values.detach ? st.id : `study ${st.id}: ${st.spec.trials} trials, ${st.spec.concurrency} at a time, ${st.spec.method}`);
    if (values.detach) return 0;
  }
  const st = await follow(api, id, Number(values['poll-ms'] ?? 2000));
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
