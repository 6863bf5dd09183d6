/**
 * GPUs as resources on the head: placement with declared inventories (a 2-GPU node and a 1-GPU
 * node, no GPU needed to run it), device indices per rank, the wait reason of a job asking for
 * more GPUs than are free or than the pool has, REST validation of gpus_per_rank, and the GPUs
 * in /v1/workers and /metrics.
 */
import t from 'tap';
import { JobSpec } from '../../shared/schemas/job.ts';
import type { GpuInfo } from '../../shared/schemas/index.ts';
import type { HeadJob } from '../../head/state/job-store.ts';
import type { LiveNode } from '../../head/state/node-store.ts';
import { assignGpus, consume, placeGang } from '../../head/scheduler/placement.ts';
import { capacity, planPass } from '../../head/scheduler/plan.ts';
import { WAITING, waitReason } from '../../head/scheduler/wait-reason.ts';
import { headFixture } from './helpers/head.ts';
import { until } from './helpers/wait.ts';

const fake = (n: number, model = 'Fake H100'): GpuInfo[] =>
  Array.from({ length: n }, (_, index) => ({ index, model, memory_total_mib: 81920 }));

function job(
  id: string,
  over: { workers?: number; gpus_per_rank?: number; seq?: number; placement?: HeadJob['placement']; state?: HeadJob['state'] } = {},
): HeadJob {
  const now = new Date(0).toISOString();
  return {
    id,
    spec: JobSpec.parse({ workers: over.workers ?? 1, gpus_per_rank: over.gpus_per_rank ?? 0, trainer: { kind: 'logreg' } }),
    state: over.state ?? 'pending',
    generation: 0,
    restarts: 0,
    step: 0,
    checkpoint_step: null,
    placement: over.placement ?? [],
    metrics: {},
    created_at: now,
    updated_at: now,
    seq: over.seq ?? 1,
    finished: [],
    message: WAITING,
  };
}

function node(nodeId: string, slots: number, gpus: number, actors: LiveNode['record']['actors'] = []): LiveNode {
  return {
    heardAt: 0,
    lateMs: 0,
    lags: [],
    beats: 0,
    record: {
      nodeId,
      host: 'h',
      slots,
      backend: 'cpu',
      device: 'd',
      pid: 1,
      started_at: '',
      last_seen: 0,
      draining: false,
      actors,
      ...(gpus ? { gpus: fake(gpus) } : {}),
    },
  };
}

t.test('placeGang counts only the ranks free GPUs can hold; assignGpus gives each rank its own devices', async (t) => {
  const nodes = [
    { nodeId: 'g2', free: 4, gpus: [0, 1] },
    { nodeId: 'g1', free: 4, gpus: [0] },
    { nodeId: 'cpu', free: 8 },
  ];
  const gang = placeGang(nodes, 3, 1);
  t.same(gang, ['g2', 'g2', 'g1'], 'the node with most free GPUs first, ranks contiguous; the CPU node takes none');
  const gpus = assignGpus(nodes, gang!, 1);
  t.same(gpus, [[0], [1], [0]]);
  t.equal(new Set(gang!.map((n, r) => `${n}:${gpus[r].join()}`)).size, 3, 'no two ranks share a device');
  t.equal(placeGang(nodes, 4, 1), null, 'four 1-GPU ranks do not fit three GPUs, whatever the slots');
  t.same(placeGang(nodes, 1, 2), ['g2']);
  t.same(assignGpus(nodes, ['g2'], 2), [[0, 1]]);
  t.equal(placeGang(nodes, 2, 2), null);
  t.same(placeGang([{ nodeId: 'g2', free: 1, gpus: [0, 1] }], 2, 1), null, 'slots still bound a node');
  t.same(placeGang(nodes, 2), ['g1', 'g1'], 'a job without GPUs ignores them (best fit on slots)');
  const left = consume(nodes, gang!, gpus);
  t.same(left, [
    { nodeId: 'g2', free: 2, gpus: [] },
    { nodeId: 'g1', free: 3, gpus: [] },
    { nodeId: 'cpu', free: 8 },
  ]);
  t.throws(() => assignGpus(left, ['g2'], 1), /0 free GPU/);
});

t.test('capacity: a GPU is busy while a placement or a reported actor holds it', async (t) => {
  const placedJob = job('a', { state: 'running', placement: [{ rank: 0, nodeId: 'g2', actorId: 'a0', gpus: [1] }] });
  const nodes = [
    node('g2', 4, 2),
    node('g1', 4, 1, [{ actorId: 'old', jobId: 'x', generation: 0, rank: 0, gpus: [0] }]),
    node('cpu', 2, 0),
  ];
  t.same(capacity([placedJob], nodes), [
    { nodeId: 'g2', free: 3, gpus: [0] },
    { nodeId: 'g1', free: 3, gpus: [] },
    { nodeId: 'cpu', free: 2 },
  ]);
});

t.test('planPass: 1-GPU ranks on distinct devices, the next GPU job waits, a job too big for the pool does not block', async (t) => {
  const nodes = [node('g2', 4, 2), node('g1', 4, 1)];
  const a = job('a', { workers: 3, gpus_per_rank: 1, seq: 1 });
  const b = job('b', { workers: 1, gpus_per_rank: 1, seq: 2 });
  const plan = planPass([a, b], nodes, 0);
  t.equal(plan.length, 1, 'only the first job fits');
  t.same(plan[0].nodeOfRank, ['g2', 'g2', 'g1']);
  t.same(plan[0].gpusOfRank, [[0], [1], [0]]);

  const running = {
    ...a,
    state: 'running' as const,
    placement: plan[0].nodeOfRank.map((nodeId, rank) => ({ rank, nodeId, actorId: `a${rank}`, gpus: plan[0].gpusOfRank[rank] })),
  };
  const free = capacity([running, b], nodes);
  t.match(
    waitReason(b, nodes, free),
    /^waiting for GPUs: 1 rank\(s\) x 1 GPU\(s\) wanted, 0 of 3 free now/,
    'the waiting job says the GPUs are taken',
  );
  t.equal(waitReason(job('c'), nodes, free), WAITING, 'a CPU job waits plainly');

  const big = job('big', { workers: 2, gpus_per_rank: 2, seq: 3 });
  t.match(
    waitReason(big, nodes, free),
    /^waiting for 2 rank\(s\) of 2 GPU\(s\): the pool has 3 GPU\(s\) on 2 node\(s\) and can hold 1 such rank\(s\); add GPU workers/,
  );
  const cpu = job('cpu', { workers: 1, seq: 4 });
  const next = planPass([running, big, cpu], nodes, 0);
  t.same(
    next.map((g) => g.job.id),
    ['cpu'],
    'the job no pool could hold does not hold back the queue',
  );
  t.same(next[0].gpusOfRank, [[]]);
  t.match(
    waitReason(job('none', { gpus_per_rank: 1 }), [node('cpu', 4, 0)], capacity([], [node('cpu', 4, 0)])),
    /the pool has 0 GPU\(s\) on 1 node\(s\)/,
  );
});

t.test('REST: gpus_per_rank is validated and defaults to 0', async (t) => {
  const { head } = await headFixture(t);
  const post = (payload: object) => head.app.inject({ method: 'POST', url: '/v1/jobs', payload });
  for (const [what, v] of [
    ['above 16', 17],
    ['negative', -1],
    ['fractional', 1.5],
    ['a string', 'two'],
  ] as const) {
    const r = await post({ gpus_per_rank: v, trainer: { kind: 'logreg' } });
    t.equal(r.statusCode, 400, `${what}: 400`);
    t.equal(r.json().error.code, 'FLO_VALIDATION');
    t.ok(
      r.json().error.details.some((d: { field: string }) => d.field === 'body.gpus_per_rank'),
      `${what}: names body.gpus_per_rank`,
    );
  }
  const ok = await post({ trainer: { kind: 'logreg' } });
  t.equal(ok.statusCode, 201);
  t.equal(ok.json().spec.gpus_per_rank, 0);
  t.equal((await post({ gpus_per_rank: 16, trainer: { kind: 'logreg' } })).statusCode, 201, '16 is allowed');
});

t.test('a head with a 2-GPU and a 1-GPU node: devices per rank, waits that say why, GPUs in /v1/workers and /metrics', async (t) => {
  const { head, agent } = await headFixture(t);
  const g2 = await agent('g2', 4, {
    gpus: fake(2),
    stats: [
      { index: 0, memory_used_mib: 2048, utilization_pct: 50 },
      { index: 1, memory_used_mib: 0, utilization_pct: 0 },
    ],
  });
  const g1 = await agent('g1', 4, { gpus: fake(1, 'Fake A10') });
  const post = async (p: object) => (await head.app.inject({ method: 'POST', url: '/v1/jobs', payload: p })).json();
  const getJob = async (id: string) => (await head.app.inject({ url: `/v1/jobs/${id}` })).json();
  const a = await post({ workers: 3, gpus_per_rank: 1, trainer: { kind: 'logreg', steps: 10 } });
  await until('3 ranks spawned', () => g2.of(a.id).length + g1.of(a.id).length === 3);
  const specs = [...g2.of(a.id).map((s) => ['g2', s] as const), ...g1.of(a.id).map((s) => ['g1', s] as const)];
  t.ok(
    specs.every(([, s]) => s.gpus?.length === 1),
    'every rank was given one GPU',
  );
  t.same(specs.map(([n, s]) => `${n}:${s.gpus}`).sort(), ['g1:0', 'g2:0', 'g2:1'], 'distinct devices on each node');
  t.same(
    (await getJob(a.id)).placement.map((p: { nodeId: string; gpus: number[] }) => `${p.nodeId}:${p.gpus}`).sort(),
    ['g1:0', 'g2:0', 'g2:1'],
    'the placement records them',
  );

  const b = await post({ workers: 1, gpus_per_rank: 1, trainer: { kind: 'logreg', steps: 10 } });
  const waiting = await until(
    'b says it waits for GPUs',
    async () => {
      const j = await getJob(b.id);
      return /^waiting for GPUs/.test(j.message ?? '') && j;
    },
    60_000,
  );
  t.equal(waiting.state, 'pending');
  t.match(waiting.message, /1 rank\(s\) x 1 GPU\(s\) wanted, 0 of 3 free now/);

  const workers = await until('GPU figures from the heartbeats', async () => {
    const w = (await head.app.inject({ url: '/v1/workers' })).json().workers;
    return w.find((x: { nodeId: string; gpu_stats?: unknown }) => x.nodeId === 'g2' && x.gpu_stats) && w;
  });
  const w2 = workers.find((x: { nodeId: string }) => x.nodeId === 'g2');
  const w1 = workers.find((x: { nodeId: string }) => x.nodeId === 'g1');
  t.same(
    w2.gpus.map((g: GpuInfo) => [g.index, g.model, g.memory_total_mib]),
    [
      [0, 'Fake H100', 81920],
      [1, 'Fake H100', 81920],
    ],
  );
  t.equal(w2.gpu_source, 'nvidia-smi');
  t.same(w2.gpu_stats[0], { index: 0, memory_used_mib: 2048, utilization_pct: 50 });
  t.same(w2.gpus_free, [], 'both of g2 are held');
  t.same(
    w1.gpus.map((g: GpuInfo) => g.model),
    ['Fake A10'],
  );
  t.equal(w1.gpu_stats, undefined, 'a declared inventory has no live figures');

  const metrics = (await head.app.inject({ url: '/metrics' })).body;
  t.match(metrics, /^flotilla_gpus 3$/m);
  t.match(metrics, /^flotilla_gpus_free 0$/m);
  t.match(metrics, /^flotilla_gpu_allocated\{node="g2",gpu="1",model="Fake H100"\} 1$/m);
  t.match(metrics, /^flotilla_gpu_memory_total_bytes\{node="g1",gpu="0",model="Fake A10"\} 85899345920$/m);
  t.match(metrics, /^flotilla_gpu_memory_used_bytes\{node="g2",gpu="0",model="Fake H100"\} 2147483648$/m);
  t.match(metrics, /^flotilla_gpu_utilization_ratio\{node="g2",gpu="0",model="Fake H100"\} 0.5$/m);
  t.notMatch(metrics, /flotilla_gpu_memory_used_bytes\{node="g1"/, 'no used-memory figure without nvidia-smi');

  const big = await post({ workers: 2, gpus_per_rank: 2, trainer: { kind: 'logreg', steps: 10 } });
  await until(
    'the 2x2-GPU job says the pool cannot hold it',
    async () =>
      /^waiting for 2 rank\(s\) of 2 GPU\(s\): the pool has 3 GPU\(s\) on 2 node\(s\) and can hold 1/.test(
        (await getJob(big.id)).message ?? '',
      ),
    60_000,
  );

  for (const n of [g2, g1]) for (const s of n.of(a.id)) n.exit(s.actorId, { kind: 'succeeded' });
  await until('a succeeded', async () => (await getJob(a.id)).state === 'succeeded');
  await until('b placed on a freed GPU', () => g2.of(b.id).length + g1.of(b.id).length === 1);
  const bSpec = [...g2.of(b.id), ...g1.of(b.id)][0];
  t.equal(bSpec.gpus?.length, 1, 'b got one GPU');
  t.equal((await getJob(big.id)).state, 'pending', 'the job the pool cannot hold still waits');
});
