/** `flotilla status [ID] [--json]`: one job (or a table of jobs, and the workers). */
import { z } from 'zod';
import Table from 'cli-table3';
import { HeadClient, serverUrl } from './client.ts';
import { tableStyle } from './table-style.ts';
import { gpuRows } from './gpu-rows.ts';
import { clientFlags, defineCommand, flag, parse } from './parse.ts';

const age = (iso: string): string => {
  const s = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
  return s < 60
    ? `${Math.floor(s)}s`
    : s < 3600
      ? `${Math.floor(s / 60)}m`
      : s < 86400
        ? `${Math.floor(s / 3600)}h`
        : `${Math.floor(s / 86400)}d`;
};
export const spec = defineCommand({
  name: 'status',
  synopsis: '[ID] [--json] [--server URL]',
  intro: '  without ID: every job (newest first) and the live workers',
  flags: z.object({
    ...clientFlags,
    json: flag.bool('machine-readable output (the job record: id, state, generation, restarts, step, ...)'),
  }),
  args: z.array(z.string()).max(1, 'expected at most one job ID'),
});

export async function run(argv: string[]): Promise<number> {
  const p = parse(spec, argv);
  if (!p.ok) return p.exit;
  const values = p.flags;
  const positionals = p.args;
  const c = new HeadClient(serverUrl(values.server), values.token);
  if (positionals[0]) {
    const j = await c.get(positionals[0]);
    if (values.json) {
      console.log(JSON.stringify(j, null, 2));
      return 0;
    }
    const nodes = [...new Set(j.placement.map((p) => p.nodeId))].join(',') || '-';
    console.log(
      `${j.id}  ${j.state}  generation ${j.generation}  restarts ${j.restarts}  step ${j.step}  checkpoint ${j.checkpoint_step ?? '-'}  workers ${j.spec.workers}  nodes ${nodes}`,
    );
    if (j.message) console.log(`  ${j.message}`);
    return 0;
  }
  const [jobs, workers] = await Promise.all([c.list(), c.workers()]);
  if (values.json) {
    console.log(JSON.stringify({ jobs, workers }, null, 2));
    return 0;
  }
  const tty = Boolean(process.stdout.isTTY);
  const jt = new Table({
    head: ['JOB', 'NAME', 'STATE', 'TRAINER', 'RANKS', 'STEP', 'EPOCH', 'RESTARTS', 'GEN', 'AGE'],
    ...tableStyle(tty),
  });
  for (const j of jobs) {
    const t = j.spec.trainer;
    const epoch = t.kind === 'yolov5' && j.metrics.epoch !== undefined ? `${j.metrics.epoch + 1}/${t.epochs}` : '-';
    const step = t.kind === 'logreg' ? `${j.step}/${t.steps}` : String(j.step);
    jt.push([
      j.id,
      j.spec.name ?? '-',
      j.state,
      t.kind,
      `${j.placement.length}/${j.spec.workers}`,
      step,
      epoch,
      j.restarts,
      j.generation,
      age(j.created_at),
    ]);
  }
  console.log(jobs.length ? jt.toString() : 'no jobs');
  const wt = new Table({ head: ['WORKER', 'HOST', 'BACKEND', 'DEVICE', 'SLOTS BUSY', 'HEARTBEAT', 'STATE'], ...tableStyle(tty) });
  for (const w of workers)
    wt.push([
      w.nodeId,
      w.host,
      w.backend,
      w.device,
      `${w.slots - w.free}/${w.slots}`,
      `${(w.alive_ms_ago / 1000).toFixed(1)}s ago`,
      w.draining ? 'draining' : 'ready',
    ]);
  console.log(workers.length ? `\n${wt.toString()}` : '\nno live workers');
  const gpus = gpuRows(workers);
  if (gpus.length) {
    const gt = new Table({ head: ['WORKER', 'GPU', 'MODEL', 'MEMORY USED', 'UTIL', 'STATE'], ...tableStyle(tty) });
    for (const g of gpus) gt.push([g.node, g.index, g.model, g.memory, g.util, g.state]);
    console.log(`\n${gt.toString()}`);
  }
  return 0;
}
