/**
 * npm run bench:recovery — what a fault costs, the new path beside the old one, in one run.
 *
 * Each scenario runs on a fresh prefix: a real nats-server (with auth), an in-process head and
 * three worker agent processes of one slot each; a 2-rank job trains, and at step >= --at (7),
 * once the warm pools have refilled after the job's own start (steady state), at the next step
 * 7 of 10 (mid-way between checkpoints), one fault hits rank 1: SIGKILL of its actor, SIGKILL of its agent, or SIGTERM of its agent
 * (a drain). From the job's event stream (one clock: every process runs on this host):
 *   detect  = first state event of a newer generation - the fault
 *   next    = first rank-0 step of the newer generation - the fault
 *   lost    = last step reached before - (first step after - 1)
 *   phases  = per rank of the new generation, its `timeline` marks (worker/actor/timeline.ts: YOLOv5
 *             ranks), and the head's state events, in ms after the fault (printed, and in the rows)
 * for a 2-rank YOLOv5n job (synthetic, img 128, batch 8) and a 2-rank logreg job, with
 *   new = recovery 'live' + warm actors (--warm-actors 1) + the head's disconnect hints, and
 *   old = recovery 'checkpoint' + --warm-actors 0 + heartbeats alone (the head without revoker.json).
 * Then submit -> first step of a 1-rank YOLOv5n job on an idle agent (warm pool vs cold), and
 * short-job throughput (--jobs one-step logreg jobs on 2 slots; warm: processes reused from job
 * to job). Each of these rows carries the machine's load average when it was measured.
 * NATS outages (--only nats): the scenario's own nats-server is SIGKILLed at a step (a 2-rank job,
 * live recovery, warm pools) and started again on its port and store after 5 s and after 0.5 s:
 *   next    = first rank-0 step reported after the server is back - its return
 *   lost    = last step reached before the kill - (first step after - 1)
 *   restarts, generation: of the job when the first step after the outage was reported
 * --json FILE writes the rows (default bench/recovery-results.json; an --only run writes only its
 * part into the file's other rows); --only yolov5|logreg|start|throughput|nats runs one part.
 * Over 300 lines: one benchmark script whose scenarios share its cluster helpers.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { existsSync, readFileSync } from 'node:fs';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { startNatsServer, type NatsServer } from '../head/embedded-nats.ts';
import { startHead, type Head } from '../head/head.ts';
import { HeadClient } from '../bin/cli/client.ts';
import { decode, encode } from '../shared/codec.ts';
import { subjects } from '../shared/subjects.ts';
import { ControlReply, JobEvent, type JobSpecInput } from '../shared/schemas/index.ts';
import { createLogger, silentLogger } from '../shared/logger.ts';
import { REPO_ROOT } from '../worker/agent/start.ts';
import { flag, numFlag } from './args.ts';
import { parseTimeline } from '../worker/actor/timeline.ts';

const argv = process.argv.slice(2);
const AT = numFlag(argv, 'at', 7);
const JOBS = numFlag(argv, 'jobs', 20);
const only = flag(argv, 'only');
const jsonFile = flag(argv, 'json') || 'bench/recovery-results.json';

type Metric = Extract<JobEvent, { type: 'metric' }>;
type Fault = 'actor-kill' | 'agent-kill' | 'drain';
type PathName = 'new' | 'old';
/** old: also without the disconnect hints (no system-account user: heartbeats alone find a dead agent) */
const PATHS: Record<PathName, { recovery: 'live' | 'checkpoint'; warm: number; hints: boolean }> = {
  new: { recovery: 'live', warm: 1, hints: true },
  old: { recovery: 'checkpoint', warm: 0, hints: false },
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until<T>(
  what: string,
  f: () => Promise<T | undefined | false | null> | T | undefined | false | null,
  limitMs = 240_000,
): Promise<T> {
  const end = Date.now() + limitMs;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`bench gave up waiting for: ${what}`);
    await sleep(50);
  }
}

interface AgentProc {
  nodeId: string;
  proc: ChildProcess;
  registered: Promise<void>;
  exited: Promise<void>;
}

async function startAgent(nats: NatsServer, prefix: string, nodeId: string, warm: number, slots = 1): Promise<AgentProc> {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'worker/agent/main.ts'], {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      FLOTILLA_NATS_URL: nats.url,
      FLOTILLA_PREFIX: prefix,
      FLOTILLA_NODE_ID: nodeId,
      FLOTILLA_SLOTS: String(slots),
      FLOTILLA_WARM_ACTORS: String(warm),
      FLOTILLA_LOG_LEVEL: process.env.BENCH_LOG ? 'info' : 'error',
      FLOTILLA_JOIN_TOKEN: await nats.auth!.joinToken(prefix, nodeId),
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (process.env.BENCH_LOG) proc.stdout?.on('data', (d: Buffer) => process.stderr.write(d));
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  const registered = new Promise<void>((resolve, reject) => {
    proc.stdout?.on('data', (d: Buffer) => {
      if (String(d).includes('registered')) resolve();
    });
    void exited.then(() => reject(new Error(`agent ${nodeId} exited before registering`)));
  });
  return { nodeId, proc, registered, exited };
}

async function stopAgent(a: AgentProc): Promise<void> {
  if (a.proc.exitCode !== null || a.proc.signalCode !== null) return;
  a.proc.kill('SIGKILL');
  await a.exited;
}

/** Every job event of `jobId` from now on (core NATS: the head's own creds may read them). */
function collect(nc: NatsConnection, prefix: string, jobId: string): { events: JobEvent[]; stop(): void } {
  const events: JobEvent[] = [];
  const sub = nc.subscribe(subjects(prefix).jobEvents(jobId), {
    callback: (err, m) => {
      if (!err) events.push(decode(JobEvent, m.data));
    },
  });
  return { events, stop: () => sub.unsubscribe() };
}

interface Cluster {
  nats: NatsServer;
  nc: NatsConnection;
}

async function withCluster<T>(
  c: Cluster,
  warm: number,
  nodes: string[],
  slots: number,
  fn: (o: { head: Head; api: HeadClient; prefix: string; agents: Map<string, AgentProc> }) => Promise<T>,
  hints = true,
): Promise<T> {
  const prefix = `br_${Math.random().toString(36).slice(2, 8)}`;
  const { natsRevoker, ...headAuth } = c.nats.auth!.headOptions;
  const log = process.env.BENCH_LOG ? createLogger({ role: 'head', destination: 2 }) : silentLogger();
  const head = await startHead({
    natsUrl: c.nats.url,
    prefix,
    ...headAuth,
    ...(hints && natsRevoker ? { natsRevoker } : {}),
    port: 0,
    log,
  });
  const agents = new Map<string, AgentProc>();
  try {
    for (const n of nodes) agents.set(n, await startAgent(c.nats, prefix, n, warm, slots));
    await Promise.all([...agents.values()].map((a) => a.registered));
    const api = new HeadClient(head.url);
    // an idle pool: every agent's warm processes loaded (or none asked)
    await until('warm pools ready', async () => {
      const ws = await api.workers();
      return ws.length === nodes.length && ws.every((w) => warm === 0 || (w.warm?.ready ?? 0) >= warm);
    });
    return await fn({ head, api, prefix, agents });
  } finally {
    for (const a of agents.values()) await stopAgent(a);
    await head.stop();
  }
}

function trainerOf(kind: 'yolov5' | 'logreg'): JobSpecInput['trainer'] {
  return kind === 'yolov5'
    ? { kind: 'yolov5', img: 128, batch: 8, epochs: 100, synthetic: { train: 256, val: 16, seed: 0 }, noautoanchor: true, patience: 0 }
    : { kind: 'logreg', steps: 100_000, step_delay_ms: 50 };
}

interface FaultRow {
  trainer: string;
  fault: Fault;
  path: PathName;
  detect_ms: number;
  next_step_ms: number;
  steps_lost: number;
  before: number;
  after: number;
  error?: string;
  /** per rank of the new generation: its timeline marks (worker/actor/timeline.ts) in ms after the fault, and the head's decision and placement */
  phases?: Record<string, Record<string, number>>;
}

/** The new generation's phases after the fault at `t0`: the head's decision (state events) and each rank's timeline. */
function phasesOf(events: JobEvent[], g0: number, t0: number): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  const head: Record<string, number> = {};
  for (const e of events) {
    if (e.type === 'state' && e.generation > g0 && head[e.state] === undefined) head[e.state] = e.ts - t0;
    if (e.type === 'log' && e.generation > g0) {
      const tl = parseTimeline(e.msg);
      if (tl && out[`rank ${e.rank}`] === undefined)
        out[`rank ${e.rank}`] = Object.fromEntries(Object.entries(tl.at).map(([k, v]) => [k, v - t0]));
    }
  }
  return { head, ...out };
}

async function actorPid(nc: NatsConnection, prefix: string, actorId: string): Promise<number> {
  const m = await nc.request(subjects(prefix).actorCall(actorId), encode({ method: 'status' }), { timeout: 10_000 });
  const r = decode(ControlReply, m.data);
  if (!r.ok) throw new Error(`status of ${actorId}: ${r.error.message}`);
  return (r.result as { pid: number }).pid;
}

async function faultScenario(c: Cluster, kind: 'yolov5' | 'logreg', fault: Fault, path: PathName): Promise<FaultRow> {
  const p = PATHS[path];
  return withCluster(
    c,
    p.warm,
    ['a', 'b', 'c'],
    1,
    async ({ api, prefix, agents }) => {
      const job = await api.submit({ workers: 2, max_restarts: 5, checkpoint_every: 10, recovery: p.recovery, trainer: trainerOf(kind) });
      const ev = collect(c.nc, prefix, job.id);
      try {
        await until(`step ${AT}`, async () => {
          const j = await api.get(job.id);
          return j.state === 'running' && j.step >= AT && j;
        });
        // steady state: the pools refilled after the job's own start (a refill waits for the first step)
        await until('warm pools refilled', async () => (await api.workers()).every((w) => p.warm === 0 || (w.warm?.ready ?? 0) >= p.warm));
        // mid-way between two checkpoints (step 7 of every 10), so the old path shows a typical loss
        const last = () =>
          Math.max(
            0,
            ...ev.events
              .filter((e) => e.type === 'metric' && e.rank === 0 && ('loss' in e.values || 'box' in e.values))
              .map((e) => (e as Metric).step),
          );
        await until('a step 7 of 10', () => last() % 10 === 7);
        const running = await api.get(job.id);
        const victim = running.placement.find((q) => q.rank === 1)!;
        const g0 = running.generation;
        const pid = fault === 'actor-kill' ? await actorPid(c.nc, prefix, victim.actorId) : 0;
        const t0 = Date.now();
        if (fault === 'actor-kill') process.kill(pid, 'SIGKILL');
        else agents.get(victim.nodeId)!.proc.kill(fault === 'agent-kill' ? 'SIGKILL' : 'SIGTERM');
        // per-step metrics of rank 0 (logreg: loss; YOLOv5: box/obj/cls; epoch rows carry train_*)
        const steps = () =>
          ev.events.filter((e): e is Metric => e.type === 'metric' && e.rank === 0 && ('loss' in e.values || 'box' in e.values));
        await until('two steps of the next generation', () => steps().filter((e) => e.generation > g0).length >= 2);
        // the newest step the old generation completed (its last metrics may land just after the fault)
        const before = Math.max(
          ...steps()
            .filter((e) => e.generation === g0)
            .map((e) => e.step),
          0,
        );
        const firstNew = steps().find((e) => e.generation > g0)!;
        const state = ev.events.find((e) => e.type === 'state' && e.generation > g0);
        const row: FaultRow = {
          trainer: kind,
          fault,
          path,
          detect_ms: state ? state.ts - t0 : NaN,
          next_step_ms: firstNew.ts - t0,
          steps_lost: before - (firstNew.step - 1),
          before,
          after: firstNew.step,
          phases: phasesOf(ev.events, g0, t0),
        };
        console.log(
          `  ${kind.padEnd(6)} ${fault.padEnd(10)} ${path}: detect ${row.detect_ms} ms, next step ${row.next_step_ms} ms, lost ${row.steps_lost} (step ${before} -> ${firstNew.step}), load average ${loadavg()[0].toFixed(1)}`,
        );
        for (const [who, marks] of Object.entries(row.phases ?? {})) {
          console.log(
            `    ${who.padEnd(7)} ${Object.entries(marks)
              .sort((a, b) => a[1] - b[1])
              .map(([k, v]) => `${k} +${v}`)
              .join(', ')} ms`,
          );
        }
        return row;
      } finally {
        ev.stop();
        await api.cancel(job.id).catch(() => undefined);
      }
    },
    p.hints,
  );
}

interface OutageRow {
  trainer: string;
  down_ms: number;
  next_step_ms: number;
  steps_lost: number;
  before: number;
  after: number;
  restarts: number;
  generation: number;
  load1: number;
  error?: string;
}

/** A NATS outage: the scenario's own server SIGKILLed at a step 7 of 10 and back after `downMs`. */
async function natsOutage(kind: 'yolov5' | 'logreg', downMs: number): Promise<OutageRow> {
  const nats = await startNatsServer();
  const nc = await connect({ ...nats.options(), maxReconnectAttempts: -1, reconnectTimeWait: 250 });
  const c = { nats, nc };
  try {
    return await withCluster(c, 1, ['a', 'b'], 1, async ({ api, prefix }) => {
      const job = await api.submit({ workers: 2, max_restarts: 5, checkpoint_every: 10, recovery: 'live', trainer: trainerOf(kind) });
      const ev = collect(nc, prefix, job.id);
      try {
        await until(`step ${AT}`, async () => {
          const j = await api.get(job.id);
          return j.state === 'running' && j.step >= AT && j;
        });
        const steps = () =>
          ev.events.filter((e): e is Metric => e.type === 'metric' && e.rank === 0 && ('loss' in e.values || 'box' in e.values));
        const last = () => Math.max(0, ...steps().map((e) => e.step));
        await until('a step 7 of 10', () => last() % 10 === 7);
        const t0 = Date.now();
        await nats.kill();
        const before = last();
        await sleep(downMs);
        await nats.restart();
        const back = Date.now();
        const next = await until('a step after the outage', () => steps().find((e) => e.ts >= back), 300_000);
        const j = await until('the job record', () => api.get(job.id).catch(() => undefined), 60_000);
        const row: OutageRow = {
          trainer: kind,
          down_ms: downMs,
          next_step_ms: next.ts - back,
          steps_lost: before - (next.step - 1),
          before,
          after: next.step,
          restarts: j.restarts,
          generation: j.generation,
          load1: load1(),
        };
        console.log(
          `  ${kind.padEnd(6)} outage ${String(downMs).padStart(4)} ms: next step ${row.next_step_ms} ms after the server is back (${((next.ts - t0) / 1000).toFixed(2)} s after the kill), lost ${row.steps_lost} (step ${before} -> ${next.step}), restarts ${row.restarts}, generation ${row.generation}, load ${row.load1}`,
        );
        return row;
      } finally {
        ev.stop();
        await api.cancel(job.id).catch(() => undefined);
      }
    });
  } finally {
    await nc.close().catch(() => undefined);
    await nats.stop();
  }
}

/** the machine's 1-minute load average when a row was measured (other sessions share it) */
const load1 = (): number => Math.round(loadavg()[0] * 100) / 100;

interface StartRow {
  path: 'warm' | 'cold';
  run: number;
  submit_to_first_step_ms: number;
  load1: number;
}

async function firstStep(c: Cluster, warm: number, run: number): Promise<StartRow> {
  return withCluster(c, warm, ['s'], 1, async ({ api, prefix }) => {
    const t0 = Date.now();
    const job = await api.submit({
      workers: 1,
      trainer: { kind: 'yolov5', img: 128, batch: 8, epochs: 1, synthetic: { train: 64, val: 16, seed: 0 }, noautoanchor: true },
    });
    const ev = collect(c.nc, prefix, job.id);
    try {
      const first = await until('the first step', () => ev.events.find((e) => e.type === 'metric' && e.rank === 0));
      const row: StartRow = { path: warm > 0 ? 'warm' : 'cold', run, submit_to_first_step_ms: first.ts - t0, load1: load1() };
      console.log(`  submit -> first YOLOv5n step, ${row.path} (run ${run}): ${row.submit_to_first_step_ms} ms (load ${row.load1})`);
      return row;
    } finally {
      ev.stop();
      await api.cancel(job.id).catch(() => undefined);
    }
  });
}

interface ThroughputRow {
  path: 'warm' | 'cold';
  jobs: number;
  seconds: number;
  jobs_per_s: number;
  load1: number;
  reused?: number;
}

async function throughput(c: Cluster, warm: number): Promise<ThroughputRow> {
  return withCluster(c, warm, ['t1', 't2'], 1, async ({ api }) => {
    const t0 = Date.now();
    const ids = await Promise.all(
      Array.from({ length: JOBS }, () => api.submit({ workers: 1, trainer: { kind: 'logreg', steps: 1 } }).then((j) => j.id)),
    );
    await until(
      'every job finished',
      async () =>
        (await api.list()).filter((j) => ids.includes(j.id) && ['succeeded', 'failed', 'cancelled'].includes(j.state)).length ===
        ids.length,
      600_000,
    );
    const s = (Date.now() - t0) / 1000;
    // processes the pools got back after a job (warm: the reuse path; worker/actor/reuse.ts)
    const reused = (await api.workers()).reduce((a, w) => a + (w.warm?.reused ?? 0), 0);
    const row: ThroughputRow = {
      path: warm > 0 ? 'warm' : 'cold',
      jobs: JOBS,
      seconds: s,
      jobs_per_s: JOBS / s,
      load1: load1(),
      ...(warm > 0 ? { reused } : {}),
    };
    console.log(
      `  ${JOBS} one-step logreg jobs on 2 slots, ${row.path}: ${s.toFixed(1)} s = ${row.jobs_per_s.toFixed(2)} jobs/s (load ${row.load1}${warm > 0 ? `, ${reused} processes reused` : ''})`,
    );
    return row;
  });
}

async function main(): Promise<void> {
  const nats = await startNatsServer();
  const nc = await connect(nats.options());
  const c = { nats, nc };
  type Out = { faults: FaultRow[]; start: StartRow[]; throughput: ThroughputRow[]; nats_outage: OutageRow[]; at: number; host: string };
  const fresh: Out = {
    faults: [],
    start: [],
    throughput: [],
    nats_outage: [],
    at: AT,
    host: `${(await import('node:os')).cpus().length} cores`,
  };
  // a part run alone (--only) keeps the file's other parts
  const earlier = only && existsSync(jsonFile) ? (JSON.parse(readFileSync(jsonFile, 'utf8')) as Partial<Out>) : {};
  const out: Out = { ...fresh, ...earlier, at: AT, host: fresh.host };
  if (only === 'nats') out.nats_outage = [];
  if (only === 'start') out.start = [];
  if (only === 'throughput') out.throughput = [];
  if (only === 'yolov5' || only === 'logreg') out.faults = out.faults.filter((r) => r.trainer !== only);
  try {
    for (const kind of ['yolov5', 'logreg'] as const) {
      if (only && only !== kind) continue;
      console.log(`${kind}: 2 ranks on 3 one-slot agents, fault at step >= ${AT}, checkpoint_every 10`);
      for (const fault of ['actor-kill', 'agent-kill', 'drain'] as const) {
        if (flag(argv, 'fault') && flag(argv, 'fault') !== fault) continue;
        for (const path of ['new', 'old'] as const) {
          if (flag(argv, 'path') && flag(argv, 'path') !== path) continue;
          out.faults.push(
            await faultScenario(c, kind, fault, path).catch((e: Error) => {
              console.log(`  ${kind.padEnd(6)} ${fault.padEnd(10)} ${path}: FAILED: ${e.message}`);
              return {
                trainer: kind,
                fault,
                path,
                detect_ms: NaN,
                next_step_ms: NaN,
                steps_lost: NaN,
                before: NaN,
                after: NaN,
                error: e.message,
              };
            }),
          );
        }
      }
    }
    if (!only || only === 'nats') {
      console.log(`NATS outage: the one nats-server SIGKILLed at a step 7 of 10 (>= ${AT}), 2 ranks, live recovery`);
      for (const kind of ['logreg', 'yolov5'] as const) {
        for (const downMs of [5000, 500]) {
          out.nats_outage.push(
            await natsOutage(kind, downMs).catch((e: Error) => {
              console.log(`  ${kind.padEnd(6)} outage ${downMs} ms: FAILED: ${e.message}`);
              return {
                trainer: kind,
                down_ms: downMs,
                next_step_ms: NaN,
                steps_lost: NaN,
                before: NaN,
                after: NaN,
                restarts: NaN,
                generation: NaN,
                load1: load1(),
                error: e.message,
              };
            }),
          );
        }
      }
    }
    if (!only || only === 'start') {
      console.log('submit -> first step (1-rank YOLOv5n, img 128, idle agent)');
      for (const run of [1, 2]) for (const warm of [1, 0]) out.start.push(await firstStep(c, warm, run));
    }
    if (!only || only === 'throughput') {
      console.log('short-job throughput');
      for (const warm of [1, 0]) out.throughput.push(await throughput(c, warm));
    }
  } finally {
    await nc.close();
    await nats.stop();
  }
  console.log('\nfault                      new (live + warm)                 old (checkpoint, cold)');
  for (const kind of ['yolov5', 'logreg']) {
    for (const fault of ['actor-kill', 'agent-kill', 'drain']) {
      const n = out.faults.find((r) => r.trainer === kind && r.fault === fault && r.path === 'new');
      const o = out.faults.find((r) => r.trainer === kind && r.fault === fault && r.path === 'old');
      if (!n || !o) continue;
      const cell = (r: FaultRow) =>
        `detect ${(r.detect_ms / 1000).toFixed(2)} s, next ${(r.next_step_ms / 1000).toFixed(2)} s, lost ${r.steps_lost}`.padEnd(38);
      console.log(`${`${kind} ${fault}`.padEnd(27)}${cell(n)}${cell(o)}  next-step ratio ${(o.next_step_ms / n.next_step_ms).toFixed(2)}x`);
    }
  }
  for (const r of out.nats_outage) {
    console.log(
      `${`${r.trainer} NATS outage ${r.down_ms} ms`.padEnd(27)}next step ${(r.next_step_ms / 1000).toFixed(2)} s after the server is back, lost ${r.steps_lost}, restarts ${r.restarts}`,
    );
  }
  for (const p of ['warm', 'cold'] as const) {
    const rs = out.start.filter((r) => r.path === p);
    if (rs.length)
      console.log(`submit -> first YOLOv5n step, ${p}: ${rs.map((r) => `${(r.submit_to_first_step_ms / 1000).toFixed(2)} s`).join(', ')}`);
  }
  const [tw, tc] = [out.throughput.find((r) => r.path === 'warm'), out.throughput.find((r) => r.path === 'cold')];
  if (tw && tc)
    console.log(
      `short jobs: warm ${tw.jobs_per_s.toFixed(2)} jobs/s, cold ${tc.jobs_per_s.toFixed(2)} jobs/s (${(tw.jobs_per_s / tc.jobs_per_s).toFixed(2)}x)`,
    );
  writeFileSync(jsonFile, `${JSON.stringify(out, null, 2)}\n`);
  console.log(`rows written to ${jsonFile}`);
}

await main();
process.exit(0);
