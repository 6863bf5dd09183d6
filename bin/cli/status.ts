/** `flotilla status [ID] [--json]`: one job (or a table of jobs, and the workers). */
import { parseArgs } from 'node:util';
import { HeadClient, serverUrl } from './client.ts';

const USAGE = `usage: flotilla status [ID] [--json] [--server URL]

  without ID: every job (newest first) and the live workers
  --json      machine-readable output (the job record: id, state, generation, restarts, step, ...)`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv, allowPositionals: true, strict: true,
    options: { server: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) { console.log(USAGE); return 0; }
  const c = new HeadClient(serverUrl(values.server));
  if (positionals[0]) {
    const j = await c.get(positionals[0]);
    if (values.json) { console.log(JSON.stringify(j, null, 2)); return 0; }
    const nodes = [...new Set(j.placement.map((p) => p.nodeId))].join(',') || '-';
    console.log(`${j.id}  ${j.state}  generation ${j.generation}  restarts ${j.restarts}  step ${j.step}  checkpoint ${j.checkpoint_step ?? '-'}  workers ${j.spec.workers}  nodes ${nodes}`);
    if (j.message) console.log(`  ${j.message}`);
    return 0;
  }
  const [jobs, workers] = await Promise.all([c.list(), c.workers()]);
  if (values.json) { console.log(JSON.stringify({ jobs, workers }, null, 2)); return 0; }
  console.log('JOB'.padEnd(20), 'STATE'.padEnd(11), 'GEN'.padStart(4), 'RESTARTS'.padStart(9), 'STEP'.padStart(8), 'WORKERS'.padStart(8), ' NAME');
  for (const j of jobs) {
    console.log(j.id.padEnd(20), j.state.padEnd(11), String(j.generation).padStart(4), String(j.restarts).padStart(9), String(j.step).padStart(8), String(j.spec.workers).padStart(8), ` ${j.spec.name ?? ''}`);
  }
  console.log(`\n${workers.length} worker(s): ${workers.map((w) => `${w.nodeId} (${w.slots - w.free}/${w.slots} busy${w.draining ? ', draining' : ''})`).join(', ') || 'none'}`);
  return 0;
}
