/**
 * GPUs on the agent side: the inventory (declared, nvidia-smi's csv, --gpus N|all|none), the
 * NodeInfo and heartbeats that advertise it, and the pinning of real forked actor processes
 * (their environment is written by a fixture entry, test/worker/fixtures/env-actor.ts).
 */
import t from 'tap';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decode } from '../../shared/codec.ts';
import { NodeHeartbeat, NodeInfo } from '../../shared/schemas/index.ts';
import { FlotillaError } from '../../shared/errors.ts';
import { Agent } from '../../worker/agent/agent.ts';
import { REPO_ROOT } from '../../worker/agent/start.ts';
import { findGpus, parseDeclaredInventory, parseSmiCsv, queryNvidiaSmi, selectGpus, type GpuInventory } from '../../worker/agent/gpus.ts';
import { Collector, actorSpec, control, jobSpec, natsEnv, pretendHead, testLogger, type Env } from './helpers.ts';

const FAKE_SMI = join(REPO_ROOT, 'test', 'worker', 'fixtures', 'fake-nvidia-smi.sh');
const ENV_ACTOR = join(REPO_ROOT, 'test', 'worker', 'fixtures', 'env-actor.ts');

t.test('a declared inventory: counts, models, memory; bad entries are config errors', async (t) => {
  const g = parseDeclaredInventory('2xFake H100:81920, Fake A10:24576');
  t.same(g, [
    { index: 0, model: 'Fake H100', memory_total_mib: 81920 },
    { index: 1, model: 'Fake H100', memory_total_mib: 81920 },
    { index: 2, model: 'Fake A10', memory_total_mib: 24576 },
  ]);
  t.same(parseDeclaredInventory('gpu'), [{ index: 0, model: 'gpu', memory_total_mib: 0 }], 'memory is optional');
  t.throws(() => parseDeclaredInventory('0xH100'), /\[Nx\]MODEL/);
  t.throws(() => parseDeclaredInventory('65xH100'), /at most 64/);
});

t.test("nvidia-smi's csv: numbers from the last three fields, [N/A] as 0", async (t) => {
  const r = parseSmiCsv(
    '0, GPU-aa, NVIDIA H100 80GB HBM3, 81559, 1024, 45\n1, GPU-bb, Odd, Name, 16384, 12, [N/A]\n\nNo devices were found\n',
  );
  t.same(r.gpus, [
    { index: 0, model: 'NVIDIA H100 80GB HBM3', memory_total_mib: 81559, uuid: 'GPU-aa' },
    { index: 1, model: 'Odd, Name', memory_total_mib: 16384, uuid: 'GPU-bb' },
  ]);
  t.same(r.stats, [
    { index: 0, memory_used_mib: 1024, utilization_pct: 45 },
    { index: 1, memory_used_mib: 12, utilization_pct: 0 },
  ]);
  t.equal(await queryNvidiaSmi('/nonexistent/nvidia-smi'), null, 'a missing nvidia-smi is no GPU, not an error');
  const real = await queryNvidiaSmi(FAKE_SMI);
  t.equal(real?.gpus.length, 2, 'the query the agent sends is the one the script answers');
});

t.test('--gpus N|all|none over what was found', async (t) => {
  const two = parseDeclaredInventory('2xH');
  t.equal(selectGpus(two, 'all', 'declared').length, 2);
  t.equal(selectGpus(two, 'none', 'declared').length, 0);
  t.same(
    selectGpus(two, 1, 'declared').map((g) => g.index),
    [0],
  );
  let err: unknown;
  try {
    selectGpus(two, 3, 'declared');
  } catch (e) {
    err = e;
  }
  t.ok(
    err instanceof FlotillaError && err.code === 'FLO_CONFIG' && /--gpus 3: 2 found/.test(err.message),
    'more than found: a config error saying how many there are',
  );
  const none = async () => null;
  t.same(
    await findGpus({ want: 'all', smi: none }),
    { source: 'none', gpus: [], pin: false },
    'no nvidia-smi: nothing offered, env left alone',
  );
  t.same(await findGpus({ want: 'none', smi: none }), { source: 'none', gpus: [], pin: true }, '--gpus none hides GPUs from actors');
  await t.rejects(findGpus({ want: 1, smi: none }), /--gpus 1: no GPU was found/);
  const smi = await findGpus({ want: 1, smi: () => queryNvidiaSmi(FAKE_SMI) });
  t.equal(smi.source, 'nvidia-smi');
  t.same(
    smi.gpus.map((g) => g.index),
    [0],
  );
  t.same(
    smi.stats?.map((s) => s.index),
    [0],
    'figures only of the GPUs offered',
  );
  t.equal(
    (
      await findGpus({
        want: 'all',
        declared: '3xFake',
        smi: () => {
          throw new Error('nvidia-smi must not run for a declared inventory');
        },
      })
    ).gpus.length,
    3,
  );
});

function gpuAgent(t: Tap, env: Env, nodeId: string, gpus: GpuInventory, out: string, warmActors = 0): Agent {
  const agent = new Agent({
    nc: env.nc,
    natsUrl: env.srv.url,
    prefix: env.prefix,
    nodeId,
    slots: 3,
    backend: { backend: 'cpu', device: 'test' },
    root: REPO_ROOT,
    actorEntry: ENV_ACTOR,
    log: testLogger('worker'),
    heartbeatMs: 200,
    stopGraceMs: 2000,
    warmActors,
    gpus,
    gpuRefreshMs: 100,
    actorEnv: { FLOTILLA_TEST_ENV_OUT: out, CUDA_VISIBLE_DEVICES: 'inherited-must-be-replaced' },
  });
  // One teardown, in this order: the agent (and the nvidia-smi polls and actors that write into
  // `out`) stops first, then `out` goes; retried, since a last poll may still be writing.
  t.teardown(async () => {
    try {
      await agent.close();
    } finally {
      rmSync(out, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
    }
  });
  return agent;
}
type Tap = { teardown(fn: () => unknown): void };

async function envOf(out: string, actorId: string): Promise<{ CUDA_VISIBLE_DEVICES: string | null; CUDA_DEVICE_ORDER: string | null }> {
  const f = join(out, `${actorId}.json`);
  while (!existsSync(f)) await new Promise((r) => setTimeout(r, 50));
  for (;;) {
    try {
      return JSON.parse(readFileSync(f, 'utf8'));
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

t.test('an agent with a declared inventory advertises it and pins each actor to its GPUs', async (t) => {
  const env = await natsEnv(t, 'gpu');
  const out = mkdtempSync(join(tmpdir(), 'flotilla-gpu-env-'));
  const regs = pretendHead(env.nc, env.s);
  const beats = new Collector(env.nc, env.s.allNodeHeartbeats, (m) => decode(NodeHeartbeat, m.data));
  const agent = gpuAgent(t, env, 'node-g2', await findGpus({ want: 'all', declared: '2xFake H100:81920' }), out, 1);
  await agent.start();
  const info = decode(NodeInfo, await regs.next());
  t.equal(info.gpu_source, 'declared');
  t.same(
    info.gpus?.map((g) => [g.index, g.model, g.memory_total_mib]),
    [
      [0, 'Fake H100', 81920],
      [1, 'Fake H100', 81920],
    ],
  );

  const subj = env.s.nodeControl('node-g2');
  const job = jobSpec({ trainer: { kind: 'logreg' }, gpus_per_rank: 1, workers: 2 });
  const spec = (actorId: string, rank: number, gpus?: number[]) => ({
    ...actorSpec({ jobId: 'jg', actorId, rank, worldSize: 2, nodeId: 'node-g2', job }),
    ...(gpus ? { gpus } : {}),
  });
  t.match(await control(env.nc, subj, { op: 'spawn', actor: spec('a1', 1, [1]) }), { ok: true });
  t.same(
    await envOf(out, 'a1'),
    { CUDA_VISIBLE_DEVICES: '1', CUDA_DEVICE_ORDER: 'PCI_BUS_ID' },
    'the actor sees only its GPU, in nvidia-smi order',
  );
  const held = await control(env.nc, subj, { op: 'spawn', actor: spec('a2', 0, [1]) });
  t.match(
    held,
    { ok: false, error: { code: 'FLO_NO_CAPACITY', message: /GPU\(s\) 1 held by another actor/ } },
    'a GPU another actor holds is refused',
  );
  const foreign = await control(env.nc, subj, { op: 'spawn', actor: spec('a3', 0, [5]) });
  t.match(
    foreign,
    { ok: false, error: { code: 'FLO_VALIDATION', details: [{ path: 'actor.gpus' }] } },
    'a GPU this node does not offer is refused',
  );
  t.match(await control(env.nc, subj, { op: 'spawn', actor: spec('a4', 0, [0]) }), { ok: true });
  t.same((await envOf(out, 'a4')).CUDA_VISIBLE_DEVICES, '0');
  const cpu = { ...actorSpec({ jobId: 'jc', actorId: 'c1', nodeId: 'node-g2', job: jobSpec({ trainer: { kind: 'logreg' } }) }) };
  t.match(await control(env.nc, subj, { op: 'spawn', actor: cpu }), { ok: true });
  t.same(
    await envOf(out, 'c1'),
    { CUDA_VISIBLE_DEVICES: '', CUDA_DEVICE_ORDER: 'PCI_BUS_ID' },
    'an actor without GPUs on a GPU node sees none',
  );
  t.same(
    await envOf(out, 'warm'),
    { CUDA_VISIBLE_DEVICES: '', CUDA_DEVICE_ORDER: 'PCI_BUS_ID' },
    'the warm pool loads its backends with every GPU hidden',
  );
  const beat = await beats.next((b) => b.actors.length === 3);
  t.same(
    beat.actors.map((a) => [a.actorId, a.gpus ?? []]).sort(),
    [
      ['a1', [1]],
      ['a4', [0]],
      ['c1', []],
    ],
    'heartbeats say which actor holds which GPU',
  );
  t.equal(beat.gpus, undefined, 'a declared inventory has no live figures');
  regs.close();
  beats.close();
});

t.test('an agent on nvidia-smi sends its GPU figures with heartbeats, refreshed', async (t) => {
  const env = await natsEnv(t, 'gsm');
  const out = mkdtempSync(join(tmpdir(), 'flotilla-gpu-smi-'));
  process.env.FAKE_SMI_COUNTER = join(out, 'count');
  process.env.FLOTILLA_NVIDIA_SMI = FAKE_SMI;
  t.teardown(() => {
    delete process.env.FAKE_SMI_COUNTER;
    delete process.env.FLOTILLA_NVIDIA_SMI;
  });
  const regs = pretendHead(env.nc, env.s);
  const beats = new Collector(env.nc, env.s.allNodeHeartbeats, (m) => decode(NodeHeartbeat, m.data));
  const inv = await findGpus({ want: 'all' });
  t.equal(inv.source, 'nvidia-smi');
  const agent = gpuAgent(t, env, 'node-smi', inv, out);
  await agent.start();
  const info = decode(NodeInfo, await regs.next());
  t.equal(info.gpus?.[1]?.uuid, 'GPU-66666666-7777-8888-9999-000000000000');
  const first = await beats.next((b) => b.gpus !== undefined);
  t.equal(first.gpus?.[1]?.utilization_pct, 37);
  const used = first.gpus?.[1]?.memory_used_mib ?? 0;
  const later = await beats.next((b) => (b.gpus?.[1]?.memory_used_mib ?? 0) > used);
  t.ok((later.gpus?.[1]?.memory_used_mib ?? 0) > used, `memory used is refreshed (${used} -> ${later.gpus?.[1]?.memory_used_mib} MiB)`);
  regs.close();
  beats.close();
});
