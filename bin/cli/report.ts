/**
 * `flotilla report ID [--baseline ID] [--json]`: a job's fault report as tables (the job line,
 * one row per fault, one per invariant) or the JobReport JSON. Exits 1 when an invariant that
 * was checked is violated.
 */
import { z } from 'zod';
import Table from 'cli-table3';
import type { FaultFigures, JobReport } from '../../shared/schemas/report.ts';
import { HeadClient, serverUrl } from './client.ts';
import { tableStyle } from './table-style.ts';
import { clientFlags, defineCommand, flag, parse } from './parse.ts';

export const spec = defineCommand({
  name: 'report',
  synopsis: 'ID [--baseline ID] [--json] [--server URL] [--token T]',
  intro: `  per fault: kind, target, step and time injected, detect s, recover s, steps lost, restarts;
  the job's invariants (final step reached, no step applied twice, no rollback past a
  checkpoint, final weights equal to the --baseline job's: a fault-free run of the same spec)
  exit 1 when an invariant is violated`,
  flags: z.object({
    ...clientFlags,
    baseline: flag.str('ID', 'a fault-free job of the same spec whose final weights this job must equal'),
    json: flag.bool('the JobReport object'),
  }),
  args: z.tuple([z.string().min(1)], { error: 'expected one job ID' }),
});

const num = (x: number | null, digits = 2): string => (x === null ? '-' : x.toFixed(digits));
const clock = (ms: number | null): string => (ms === null ? '-' : new Date(ms).toISOString().slice(11, 23));

export function targetOf(f: Pick<FaultFigures, 'kind' | 'target' | 'rank' | 'nodeId'>): string {
  if (f.kind === 'corrupt-checkpoint') return 'newest checkpoint';
  const want = 'rank' in f.target ? `rank ${f.target.rank}` : `node ${f.target.node}`;
  return f.nodeId && !('node' in f.target) ? `${want} (${f.nodeId})` : want;
}

/** The three tables, as text. */
export function formatReport(r: JobReport, tty: boolean): string {
  const lines = [
    `job ${r.job_id}${r.name ? ` (${r.name})` : ''}: ${r.state}, ${r.trainer}, step ${r.last_step ?? '-'} of ${r.final_step ?? '?'}, ` +
      `generation ${r.generation}, restarts ${r.restarts}/${r.max_restarts}, steps lost ${r.steps_lost}, digest ${r.final_digest ? `${r.final_digest.slice(0, 16)}…` : '-'}`,
  ];
  const ft = new Table({
    head: ['FAULT', 'KIND', 'TARGET', 'STEP', 'INJECTED', 'DETECT S', 'RECOVER S', 'STEPS LOST', 'RESTARTS', 'PHASE', 'DETECTED BY'],
    ...tableStyle(tty),
  });
  for (const f of r.faults) {
    ft.push([
      f.name ? `${f.fault_id} ${f.name}` : f.fault_id,
      f.kind,
      targetOf(f),
      f.step ?? '-',
      clock(f.injected_at),
      num(f.detect_s),
      num(f.recover_s),
      f.steps_lost,
      f.restarts,
      f.phase,
      (f.detected_by ?? (f.phase === 'failed' || f.phase === 'expired' ? (f.message ?? '') : '-')).slice(0, 60),
    ]);
  }
  lines.push(r.faults.length ? ft.toString() : 'no faults');
  const it = new Table({ head: ['INVARIANT', 'OK', 'DETAIL'], ...tableStyle(tty) });
  for (const i of r.invariants) it.push([i.name, i.ok === null ? '-' : i.ok ? 'yes' : 'NO', i.detail]);
  lines.push(it.toString());
  return lines.join('\n');
}

export async function run(argv: string[]): Promise<number> {
  const p = parse(spec, argv);
  if (!p.ok) return p.exit;
  const values = p.flags;
  const positionals = p.args;
  const r = await new HeadClient(serverUrl(values.server), values.token).report(positionals[0], values.baseline);
  console.log(values.json ? JSON.stringify(r, null, 2) : formatReport(r, Boolean(process.stdout.isTTY)));
  return r.ok ? 0 : 1;
}
