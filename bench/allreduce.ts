/**
 * Allreduce benchmark on loopback, one run: the raw one-stream NATS throughput (one publisher,
 * one subscriber, messages of the chunk size) as the reference, then each algorithm for N ranks
 * in separate processes on YOLOv5n / YOLOv5s gradient sizes. Prints time per call, algbw,
 * busbw = algbw·2(N−1)/N and busbw / raw-stream; --json FILE writes the rows.
 *
 *   npm run bench:allreduce -- [--ranks 2,4] [--algos ring,multicast,hierarchical]
 *     [--sizes 7488628,28903540] [--iters 5] [--chunk 1048576] [--max-payload 8388608]
 *     [--lanes 0 (= the library default)] [--lane-transport raw|nats] [--fp16] [--json FILE] [--no-auth]
 *
 * The server requires credentials as every server Flotilla starts does (decentralized JWT):
 * the reference streams run as the head's identity, each rank as an actor of the bench job with
 * an actor's permissions, its raw lanes signing the server's nonce. --no-auth: an open server.
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { startNatsServer, uniquePrefix } from '../test/kit/nats-server.ts';
import { subjects } from '../shared/subjects.ts';
import { actorPermissions } from '../head/auth/nats-permissions.ts';

interface Row {
  algorithm: string;
  ranks: number;
  bytes: number;
  seconds: number;
  algbw: number;
  busbw: number;
  ratio: number;
  ok?: boolean;
  fp16?: boolean;
  /** CPU seconds per call: each rank, and the nats-server */
  cpuRanks?: number[];
  cpuServer?: number;
}

/** CPU seconds (user + system) a process has used so far, from /proc (Linux). */
function cpuOf(pid: number | undefined): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const t = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return (Number(t[11]) + Number(t[12])) / 100; // utime + stime in clock ticks (USER_HZ = 100)
  } catch {
    return Number.NaN;
  }
}

function args(argv: string[]): Map<string, string> {
  const m = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) continue;
    const next = argv[i + 1];
    if (next === undefined || next.startsWith('--')) m.set(a.slice(2), 'true');
    else {
      m.set(a.slice(2), next);
      i++;
    }
  }
  return m;
}

const a = args(process.argv.slice(2));
const list = (k: string, d: string): string[] => (a.get(k) ?? d).split(',').filter(Boolean);
const ranksList = list('ranks', '2,4').map(Number);
const algos = list('algos', 'ring,multicast,hierarchical');
// YOLOv5n: 1,872,157 parameters; YOLOv5s: 7,225,885 (float32 gradients)
const sizes = list('sizes', `${1872157 * 4},${7225885 * 4}`).map(Number);
const iters = Number(a.get('iters') ?? 5);
const chunk = Number(a.get('chunk') ?? 1024 * 1024);
const maxPayload = Number(a.get('max-payload') ?? 8 * 1024 * 1024);
const lanes = Number(a.get('lanes') ?? 0);
const fp16 = a.get('fp16') === 'true';
const jsonFile = a.get('json');
const worker = fileURLToPath(new URL('./allreduce-worker.ts', import.meta.url));

function child(env: Record<string, string>): { lines: AsyncGenerator<Record<string, unknown>>; done: Promise<number> } {
  const p = spawn(process.execPath, ['--import', 'tsx', worker], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  const done = new Promise<number>((r) => p.once('exit', (c) => r(c ?? 1)));
  async function* lines(): AsyncGenerator<Record<string, unknown>> {
    let buf = '';
    for await (const d of p.stdout) {
      buf += String(d);
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const l = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (l.startsWith('{')) yield JSON.parse(l) as Record<string, unknown>;
      }
    }
  }
  return { lines: lines(), done };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((x, y) => x - y);
  return s[Math.floor(s.length / 2)];
};

/** The reference streams' identity: the head's creds on a server with auth. */
function headCredsText(): string {
  return server.auth?.headCreds ?? '';
}

/** One publisher process, one subscriber process, `total` bytes in messages of `msg` bytes. */
async function rawStream(
  url: string,
  total: number,
  msg: number,
  client: 'nats' | 'raw' = 'nats',
): Promise<{ rate: number; cpu: number[] }> {
  const subject = `${uniquePrefix('raw')}.stream`;
  const env = { B_URL: url, B_SUBJECT: subject, B_TOTAL: String(total), B_MSG: String(msg), B_CREDS: headCredsText() };
  const s = child({ ...env, B_MODE: client === 'nats' ? 'sub' : 'rawsub' });
  await s.lines.next(); // ready
  const p = child({ ...env, B_MODE: client === 'nats' ? 'pub' : 'rawpub' });
  const s0 = cpuOf(serverPid);
  const start = (await p.lines.next()).value as { start: number; cpu: number };
  const end = (await s.lines.next()).value as { end: number; cpu: number };
  const server = cpuOf(serverPid) - s0;
  await Promise.all([s.done, p.done]);
  return { rate: total / ((end.end - start.start) / 1000), cpu: [start.cpu, end.cpu, server] };
}

async function allreduceRun(
  url: string,
  n: number,
  algo: string,
  bytes: number,
): Promise<{ seconds: number; ok: boolean; cpuRanks: number[]; cpuServer: number; lanes: string }> {
  const s0 = cpuOf(serverPid);
  const s = subjects(uniquePrefix('bench'));
  const base = s.collective('bench', 1);
  const creds = await Promise.all(
    Array.from({ length: n }, (_, r) => server.auth?.mint(`actor:bench-r${r}`, actorPermissions(s, 'bench', `bench-r${r}`)) ?? ''),
  );
  const procs = Array.from({ length: n }, (_, r) =>
    child({
      B_MODE: 'rank',
      B_CREDS: creds[r],
      B_URL: url,
      B_BASE: base,
      B_RANK: String(r),
      B_N: String(n),
      B_ALGO: algo,
      B_LEN: String(Math.floor(bytes / 4)),
      B_ITERS: String(iters),
      B_CHUNK: String(chunk),
      B_LANES: String(lanes),
      B_FP16: fp16 ? '1' : '0',
      B_LANE_TRANSPORT: a.get('lane-transport') ?? 'raw',
      // hierarchical on one host: pretend nodes of two ranks each
      B_NODES: String(Math.max(1, Math.floor(n / 2))),
    }),
  );
  const res = (await procs[0].lines.next()).value as { times: number[]; ok: boolean; cpuPerCall: number[]; lanes: string };
  // the server's CPU over the whole run (join, warm-up and barriers included), per timed call
  const cpuServer = (cpuOf(serverPid) - s0) / (iters + 1);
  const codes = await Promise.all(procs.map((p) => p.done));
  if (codes.some((c) => c !== 0)) throw new Error(`a rank exited with ${codes.join(',')}`);
  return { seconds: median(res.times), ok: res.ok, cpuRanks: res.cpuPerCall, cpuServer, lanes: res.lanes };
}

const server = await startNatsServer({
  auth: a.get('no-auth') !== 'true',
  jetstream: false,
  maxPayload,
  extraConfig: 'max_pending: 268435456\nwrite_deadline: "60s"',
});
const serverPid = server.proc.pid;
const rows: Row[] = [];
const mb = (x: number): string => (x / 1e6).toFixed(1);
try {
  const refBytes = Math.max(...sizes);
  // the reference: nats.js, one stream; measured before and after the algorithms (the load of
  // a shared machine drifts), and the median of all runs is the figure
  const rawRuns: { rate: number; cpu: number[] }[] = [];
  for (let k = 0; k < 3; k++) rawRuns.push(await rawStream(server.url, refBytes * 2, chunk));
  const laneRuns: { rate: number; cpu: number[] }[] = [];
  for (let k = 0; k < 2; k++) laneRuns.push(await rawStream(server.url, refBytes * 2, chunk, 'raw'));
  for (const n of ranksList) {
    for (const bytes of sizes) {
      for (const algo of algos) {
        const { seconds, ok, cpuRanks, cpuServer, lanes: laneKind } = await allreduceRun(server.url, n, algo, bytes);
        const algbw = bytes / seconds;
        const busbw = (algbw * 2 * (n - 1)) / n;
        rows.push({
          algorithm: algo,
          ranks: n,
          bytes,
          seconds,
          algbw,
          busbw,
          ratio: 0,
          ok,
          ...(fp16 ? { fp16 } : {}),
          cpuRanks,
          cpuServer,
        });
        process.stdout.write(
          `  ${algo} N=${n} ${mb(bytes)} MB: ${(seconds * 1000).toFixed(1)} ms${ok ? '' : ' WRONG RESULT'} (${laneKind} lanes); CPU s/call: ranks ${cpuRanks.map((c) => c.toFixed(2)).join(' ')}, server ${cpuServer.toFixed(2)}\n`,
        );
      }
    }
  }
  for (let k = 0; k < 2; k++) rawRuns.push(await rawStream(server.url, refBytes * 2, chunk));
  laneRuns.push(await rawStream(server.url, refBytes * 2, chunk, 'raw'));
  const raw = median(rawRuns.map((x) => x.rate));
  const lane = median(laneRuns.map((x) => x.rate));
  const cpuMedian = (runs: { cpu: number[] }[]): number[] => [0, 1, 2].map((i) => median(runs.map((x) => x.cpu[i])));
  const rawCpu = cpuMedian(rawRuns);
  const laneCpu = cpuMedian(laneRuns);
  process.stdout.write(
    `raw one-stream throughput, nats.js (${chunk} B messages): ${mb(raw)} MB/s (runs: ${rawRuns.map((x) => mb(x.rate)).join(', ')})\n`,
  );
  process.stdout.write(
    `raw one-stream throughput, the collective's RawLane client: ${mb(lane)} MB/s (runs: ${laneRuns.map((x) => mb(x.rate)).join(', ')})\n`,
  );
  const refSeconds = (refBytes * 2) / raw;
  rows.unshift(
    {
      algorithm: 'raw-stream',
      ranks: 1,
      bytes: refBytes * 2,
      seconds: refSeconds,
      algbw: raw,
      busbw: raw,
      ratio: 1,
      cpuRanks: rawCpu.slice(0, 2),
      cpuServer: rawCpu[2],
    },
    {
      algorithm: 'raw-stream-rawlane',
      ranks: 1,
      bytes: refBytes * 2,
      seconds: (refBytes * 2) / lane,
      algbw: lane,
      busbw: lane,
      ratio: lane / raw,
      cpuRanks: laneCpu.slice(0, 2),
      cpuServer: laneCpu[2],
    },
  );
  for (const r of rows.slice(2)) r.ratio = r.busbw / raw;
} finally {
  await server.stop();
}

const head = ['algorithm', 'ranks', 'MB', 'ms/call', 'algbw MB/s', 'busbw MB/s', 'busbw/raw', 'CPU s/call (ranks+server)'];
const cpuCell = (r: Row): string => (r.cpuRanks ? `${(r.cpuRanks.reduce((x, y) => x + y, 0) + (r.cpuServer ?? 0)).toFixed(2)}` : '');
const table = rows.map((r) => [
  r.algorithm + (r.fp16 ? '+fp16' : ''),
  String(r.ranks),
  mb(r.bytes),
  (r.seconds * 1000).toFixed(1),
  mb(r.algbw),
  mb(r.busbw),
  r.ratio.toFixed(2),
  cpuCell(r),
]);
const w = head.map((h, i) => Math.max(h.length, ...table.map((r) => r[i].length)));
const fmt = (cells: string[]): string => cells.map((c, i) => c.padStart(w[i])).join('  ');
process.stdout.write(
  `\n${server.auth ? 'server with auth (JWT creds; ranks as actors)' : 'server without auth (--no-auth)'}, chunk ${chunk} B, max_payload ${maxPayload} B, lanes ${lanes || 'default'} (${a.get('lane-transport') ?? 'raw'}), ${fp16 ? 'fp16' : 'fp32'} on the wire, median of ${iters}\n`,
);
process.stdout.write(`${fmt(head)}\n${table.map(fmt).join('\n')}\n`);
if (jsonFile) writeFileSync(jsonFile, `${JSON.stringify(rows, null, 2)}\n`);
