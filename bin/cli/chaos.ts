/**
 * `flotilla chaos run PLAN.yaml [--only NAME] [--json]`: runs a plan's experiments one after
 * another against the cluster the CLI points at (--server/--token as every client command). An
 * experiment that asks for digest_equal_baseline first runs its spec without faults (once per
 * distinct spec) and compares the final weights. Prints one row per fault (experiment, fault,
 * detect s, recover s, steps lost, verdict), then what failed. Exit 0: every experiment passed;
 * 1: an invariant or bound was violated (or a job did not end in time); 2: a bad plan.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import Table from 'cli-table3';
import { parse as parseYaml } from 'yaml';
import { FlotillaError } from '../../shared/errors.ts';
import { ChaosPlan, type ChaosExperiment, type ChaosResult, type ChaosRow } from '../../shared/schemas/chaos.ts';
import { TERMINAL_STATES, type JobRecord, type JobSpec } from '../../shared/schemas/job.ts';
import { HeadClient, serverUrl } from './client.ts';
import { verdict } from './chaos-verdict.ts';
import { tableStyle } from './table-style.ts';
import { clientFlags, defineCommand, flag, parse, usageError } from './parse.ts';

export const spec = defineCommand({
  name: 'chaos',
  synopsis: 'run PLAN.yaml [--only NAME] [--json] [--server URL] [--token T]',
  intro: `  runs the plan's experiments one after another (deploy/chaos/smoke.yaml is an example),
  prints one row per fault: experiment, fault, detect s, recover s, steps lost, verdict
  exit 1 when any invariant or bound is violated, 2 when the plan is invalid`,
  flags: z.object({
    only: flag.list('NAME', 'run only this experiment'),
    json: flag.bool('the whole result (rows, experiments) as JSON'),
    ...clientFlags,
  }),
  args: z.tuple([z.literal('run'), z.string().min(1)], { error: 'expected run PLAN.yaml' }),
});

/** Reads and validates a plan; every bad field in one error, each named by its path. */
export function loadPlan(path: string): ChaosPlan {
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new FlotillaError('FLO_VALIDATION', `${path}: ${(e as Error).message}`);
  }
  const r = ChaosPlan.safeParse(raw);
  if (r.success) return r.data;
  const details = r.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
  throw new FlotillaError(
    'FLO_VALIDATION',
    `${path} is not a valid chaos plan:\n${details.map((d) => `  ${d.path || '(root)'}: ${d.message}`).join('\n')}`,
    { details },
  );
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Submits a spec and waits for its end; cancels it after `timeoutS`. */
async function runJob(
  c: HeadClient,
  spec: JobSpec,
  timeoutS: number,
  say: (l: string) => void,
): Promise<{ job: JobRecord; seconds: number; timedOut: boolean }> {
  const t0 = Date.now();
  let job = await c.submit(spec);
  say(`  job ${job.id} submitted`);
  while (!TERMINAL_STATES.includes(job.state)) {
    if (Date.now() - t0 > timeoutS * 1000) {
      say(`  job ${job.id} still ${job.state} after ${timeoutS} s: cancelling it`);
      await c.cancel(job.id).catch(() => undefined);
      return { job: await c.get(job.id), seconds: (Date.now() - t0) / 1000, timedOut: true };
    }
    await sleep(500);
    job = await c.get(job.id).catch((e: FlotillaError) => {
      if (e.code === 'FLO_UNAVAILABLE') return job;
      throw e;
    });
  }
  const seconds = (Date.now() - t0) / 1000;
  say(`  job ${job.id} ${job.state} after ${seconds.toFixed(1)} s (restarts ${job.restarts})`);
  return { job, seconds, timedOut: false };
}

export async function runPlan(c: HeadClient, plan: ChaosPlan, only: string[], say: (l: string) => void): Promise<ChaosResult> {
  const baselines = new Map<string, string>();
  const result: ChaosResult = { ...(plan.name ? { plan: plan.name } : {}), ok: true, rows: [], experiments: [] };
  const chosen = only.length ? plan.experiments.filter((x) => only.includes(x.name)) : plan.experiments;
  for (const x of chosen) {
    say(`experiment ${x.name}`);
    const spec: JobSpec = { ...x.job, name: x.job.name ?? x.name };
    let baseline: string | null = null;
    const problems: string[] = [];
    if (x.expect.digest_equal_baseline) {
      const key = JSON.stringify({ ...x.job, name: undefined, faults: [] });
      baseline = baselines.get(key) ?? null;
      if (!baseline) {
        say('  baseline (the same spec without faults)');
        const b = await runJob(c, { ...spec, name: `${spec.name}-baseline`, faults: [] }, x.timeout_s, say);
        if (b.job.state !== 'succeeded')
          problems.push(`baseline job ${b.job.id} ${b.job.state}${b.job.message ? `: ${b.job.message}` : ''}`);
        else baselines.set(key, b.job.id);
        baseline = b.job.id;
      }
    }
    const run = await runJob(c, spec, x.timeout_s, say);
    if (run.timedOut) problems.push(`did not end within timeout_s ${x.timeout_s}`);
    const v = verdict(x, await c.report(run.job.id, baseline ?? undefined));
    const rows: ChaosRow[] = v.rows.map((r) => (problems.length ? { ...r, ok: false, problems: [...problems, ...r.problems] } : r));
    const ok = rows.every((r) => r.ok);
    result.rows.push(...rows);
    result.experiments.push({
      name: x.name,
      job_id: run.job.id,
      baseline_job_id: baseline,
      state: run.job.state,
      seconds: run.seconds,
      ok,
      problems: [...problems, ...v.problems],
    });
    result.ok &&= ok;
  }
  return result;
}

const num = (x: number | null) => (x === null ? '-' : x.toFixed(1));

export function formatResult(r: ChaosResult, tty: boolean): string {
  const t = new Table({ head: ['EXPERIMENT', 'FAULT', 'DETECT S', 'RECOVER S', 'STEPS LOST', 'VERDICT'], ...tableStyle(tty) });
  for (const row of r.rows)
    t.push([row.experiment, row.fault, num(row.detect_s), num(row.recover_s), row.steps_lost, row.ok ? 'pass' : 'FAIL']);
  const lines = [t.toString()];
  const failed = r.experiments.filter((x) => !x.ok);
  for (const x of failed) lines.push(`FAIL ${x.name} (job ${x.job_id}):`, ...x.problems.map((p) => `  - ${p}`));
  lines.push(`${r.experiments.length - failed.length} of ${r.experiments.length} experiment(s) passed`);
  return lines.join('\n');
}

export async function run(argv: string[]): Promise<number> {
  const p = parse(spec, argv);
  if (!p.ok) return p.exit;
  const values = p.flags;
  const positionals = p.args;
  let plan: ChaosPlan;
  try {
    plan = loadPlan(positionals[1]);
  } catch (e) {
    // the plan's bad fields, each on its line (the invocation itself was fine: no usage line)
    console.error(`flotilla chaos: ${(e as Error).message}`);
    return 2;
  }
  const only = values.only ?? [];
  const unknown = only.filter((n) => !plan.experiments.some((x: ChaosExperiment) => x.name === n));
  if (unknown.length) return usageError(spec, `--only: no experiment named ${unknown.join(', ')}`);
  const say = (l: string) => process.stderr.write(`${l}\n`);
  const result = await runPlan(new HeadClient(serverUrl(values.server), values.token), plan, only, say);
  console.log(values.json ? JSON.stringify(result, null, 2) : formatResult(result, Boolean(process.stdout.isTTY)));
  return result.ok ? 0 : 1;
}
