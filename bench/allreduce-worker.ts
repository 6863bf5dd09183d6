/**
 * Child process of bench/allreduce.ts: either one end of the raw one-stream reference
 * (mode pub / sub) or one rank of an allreduce run (mode rank). Prints one JSON line.
 */
import { connect } from '@nats-io/transport-node';
import { connectRawLane, createGroup, type AlgorithmName } from '../worker/collective/index.ts';
import { natsOptions } from '../shared/nats-connect.ts';

const env = (k: string, d?: string): string => {
  const v = process.env[k] ?? d;
  if (v === undefined) throw new Error(`missing env ${k}`);
  return v;
};
const url = env('B_URL');
// the identity of this process on a server with auth (the bench's default): creds text, or none
const creds = process.env.B_CREDS || undefined;
const opts = () => natsOptions(url, creds);
const now = (): number => performance.timeOrigin + performance.now();
const cpuSince = (c0?: NodeJS.CpuUsage): number => {
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1e6;
};
const out = (x: unknown): void => {
  process.stdout.write(`${JSON.stringify(x)}\n`);
};

async function sub(): Promise<void> {
  const nc = await connect(opts());
  const total = Number(env('B_TOTAL'));
  let got = 0;
  let first = 0;
  let c0 = process.cpuUsage();
  const done = new Promise<number>((resolve) => {
    nc.subscribe(env('B_SUBJECT'), {
      callback: (_e, m) => {
        if (!first) {
          first = now();
          c0 = process.cpuUsage();
        }
        got += m.data.length;
        if (got >= total) resolve(now());
      },
    });
  });
  await nc.flush();
  out({ ready: true });
  const end = await done;
  out({ end, first, cpu: cpuSince(c0) });
  await nc.close();
}

/** The same reference through the collective's own client (RawLane) instead of nats.js. */
async function rawSub(): Promise<void> {
  const lane = await connectRawLane({ server: new URL(url).host, ...(creds ? { creds } : {}) });
  const total = Number(env('B_TOTAL'));
  let got = 0;
  let c0: NodeJS.CpuUsage | undefined;
  const done = new Promise<number>((resolve) => {
    lane.subscribe(env('B_SUBJECT'), (_s, d) => {
      c0 ??= process.cpuUsage();
      got += d.length;
      if (got >= total) resolve(now());
    });
  });
  await lane.flush();
  out({ ready: true });
  out({ end: await done, cpu: cpuSince(c0) });
  await lane.close();
}

/**
 * The raw-stream reference: B_TOTAL bytes in B_MSG-byte messages on B_SUBJECT, yielding to the
 * event loop every 8 messages (as a rank does between chunks) so the socket drains.
 */
async function publishStream(send: (subject: string, payload: Uint8Array) => void, finish: () => Promise<void>): Promise<void> {
  const size = Number(env('B_MSG'));
  const total = Number(env('B_TOTAL'));
  const payload = new Uint8Array(size).fill(7);
  const subject = env('B_SUBJECT');
  const start = now();
  const c0 = process.cpuUsage();
  for (let sent = 0; sent < total; sent += size) {
    send(subject, payload);
    if ((sent / size) % 8 === 7) await new Promise((r) => setImmediate(r));
  }
  await finish();
  out({ start, cpu: cpuSince(c0) });
}

async function rawPub(): Promise<void> {
  const lane = await connectRawLane({ server: new URL(url).host, ...(creds ? { creds } : {}) });
  await publishStream(
    (subject, payload) => lane.publish(subject, payload, true),
    () => lane.settle(),
  );
  await lane.close();
}

async function pub(): Promise<void> {
  const nc = await connect(opts());
  await publishStream(
    (subject, payload) => nc.publish(subject, payload),
    () => nc.flush(),
  );
  await nc.close();
}

async function rank(): Promise<void> {
  const lanes = Number(env('B_LANES', '0'));
  const nc = await connect(opts());
  const r = Number(env('B_RANK'));
  const n = Number(env('B_N'));
  const group = await createGroup({
    nc,
    connect: () => connect(opts()),
    lanes: lanes > 0 ? lanes : undefined,
    laneTransport: env('B_LANE_TRANSPORT', 'raw') === 'nats' ? 'nats' : 'raw',
    subjectBase: env('B_BASE'),
    jobId: 'bench',
    generation: 1,
    rank: r,
    worldSize: n,
    timeoutMs: 120_000,
    joinTimeoutMs: 120_000,
    algorithm: env('B_ALGO') as AlgorithmName,
    fp16: env('B_FP16', '0') === '1',
    chunkBytes: Number(env('B_CHUNK')),
    nodeOfRank: Array.from({ length: n }, (_, k) => `node${Math.floor((k * Number(env('B_NODES', '1'))) / n)}`),
    ...(creds ? { laneSecurity: { creds } } : {}),
  });
  const len = Number(env('B_LEN'));
  const iters = Number(env('B_ITERS'));
  const data = new Float32Array(len);
  const times: number[] = [];
  let cpu = 0; // this process's CPU seconds (user + system) in the timed calls
  let ok = true;
  for (let k = -1; k < iters; k++) {
    // k = -1 warms up
    for (let i = 0; i < len; i++) data[i] = (i % 17) + r;
    await group.barrier();
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await group.allreduce(data);
    const dt = (performance.now() - t0) / 1000;
    const c = process.cpuUsage(c0);
    if (k >= 0) {
      times.push(dt);
      cpu += (c.user + c.system) / 1e6;
    }
    const want = (i: number): number => n * (i % 17) + (n * (n - 1)) / 2;
    for (const i of [0, 1, len >> 1, len - 1]) if (data[i] !== want(i)) ok = false;
  }
  const all = await group.allgather(Float32Array.from([...times, ok ? 1 : 0, cpu / iters]));
  if (r === 0) {
    out({
      times: Array.from({ length: iters }, (_, k) => Math.max(...all.map((a) => a[k]))),
      ok: all.every((a) => a[iters] === 1),
      cpuPerCall: all.map((a) => a[iters + 1]),
      lanes: group.laneKind,
    });
  }
  await group.close();
  await nc.close();
}

const mode = env('B_MODE');
const modes: Record<string, () => Promise<void>> = { sub, pub, rawsub: rawSub, rawpub: rawPub, rank };
await modes[mode]();
