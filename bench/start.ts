/**
 * `npm run bench:start [-- --rounds N]`: what a new process of ours costs before it does any
 * work, compiled (dist/, what the platform runs: shared/run-entry.ts) against the TypeScript
 * sources through tsx (the reference, measured in the same run, rounds alternated). Each sample
 * is a fresh `node` that loads an entry's module graph and exits: the actor's (runtime, trainer
 * registry, the YOLOv5 trainer with TensorFlow.js and the native addon), the agent's and the
 * CLI's. Prints the median wall time of each and the ratio tsx / compiled.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { REPO_ROOT, compiledPath, distStale } from '../shared/run-entry.ts';

const rounds = Number(process.argv[process.argv.indexOf('--rounds') + 1]) || 5;
const why = distStale();
if (why) {
  console.error(`bench:start: ${why}; run npm run build:js first`);
  process.exit(2);
}

const graphs: Record<string, string[]> = {
  actor: ['worker/actor/runtime.ts', 'worker/trainers/registry.ts', 'worker/trainers/yolov5.ts'],
  agent: ['worker/agent/agent.ts', 'worker/agent/start.ts'],
  cli: ['bin/cli/main.ts'],
};

function sample(files: string[], compiled: boolean): number {
  const urls = files.map((f) => pathToFileURL(compiled ? compiledPath(join(REPO_ROOT, f))! : join(REPO_ROOT, f)).href);
  const script = `for (const u of ${JSON.stringify(urls)}) await import(u);`;
  const args = [...(compiled ? [] : ['--import', 'tsx']), '--input-type=module', '-e', script];
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, args, { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`sample failed (${compiled ? 'compiled' : 'tsx'} ${files.join(' ')}): ${r.stderr}`);
  return ms;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
console.log(`bench:start: ${rounds} rounds, node ${process.version}, load average ${(await import('node:os')).loadavg()[0].toFixed(1)}`);
console.log('| entry | compiled (ms, median) | tsx (ms, median) | tsx / compiled |');
console.log('|---|---|---|---|');
for (const [name, files] of Object.entries(graphs)) {
  sample(files, false);
  sample(files, true); // warm tsx's transform cache and the OS's file cache
  const js: number[] = [],
    ts: number[] = [];
  for (let i = 0; i < rounds; i++) {
    js.push(sample(files, true));
    ts.push(sample(files, false));
  }
  const a = median(js),
    b = median(ts);
  console.log(`| ${name} | ${a.toFixed(0)} | ${b.toFixed(0)} | ${(b / a).toFixed(2)} |`);
}
