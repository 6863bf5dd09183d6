/** Prometheus text exposition (format 0.0.4) of the head's view of jobs and nodes. */
import { JOB_STATES } from '../shared/schemas/job.ts';
import type { HeadJob } from './state/job-store.ts';
import type { LiveNode } from './state/node-store.ts';
import { capacity } from './scheduler/plan.ts';

function esc(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

export function renderMetrics(jobs: readonly HeadJob[], nodes: readonly LiveNode[], extra: { uptimeS: number }): string {
  const lines: string[] = [];
  const metric = (name: string, type: 'gauge' | 'counter', help: string, rows: Array<[Record<string, string>, number]>) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, v] of rows) {
      const l = Object.entries(labels)
        .map(([k, x]) => `${k}="${esc(x)}"`)
        .join(',');
      lines.push(`${name}${l ? `{${l}}` : ''} ${v}`);
    }
  };
  metric(
    'flotilla_jobs',
    'gauge',
    'Jobs by state.',
    JOB_STATES.map((s) => [{ state: s }, jobs.filter((j) => j.state === s).length]),
  );
  const active = jobs.filter((j) => j.state === 'running' || j.state === 'recovering');
  metric(
    'flotilla_job_step',
    'gauge',
    'Last step reported by rank 0 of an active job.',
    active.map((j) => [{ job: j.id }, j.step]),
  );
  metric(
    'flotilla_job_generation',
    'gauge',
    'Generation of an active job.',
    active.map((j) => [{ job: j.id }, j.generation]),
  );
  metric(
    'flotilla_job_restarts_total',
    'counter',
    'Gang restarts of a job.',
    jobs.map((j) => [{ job: j.id }, j.restarts]),
  );
  metric('flotilla_workers', 'gauge', 'Live worker nodes.', [[{}, nodes.length]]);
  metric('flotilla_workers_draining', 'gauge', 'Worker nodes that are draining.', [[{}, nodes.filter((n) => n.record.draining).length]]);
  const slots = nodes.reduce((a, n) => a + n.record.slots, 0);
  const free = capacity(jobs, nodes).reduce((a, n) => a + n.free, 0);
  metric('flotilla_slots', 'gauge', 'Actor slots of live nodes.', [[{}, slots]]);
  metric('flotilla_slots_free', 'gauge', 'Actor slots free for placement.', [[{}, free]]);
  const pools = nodes.filter((n) => n.record.warm).map((n) => ({ node: n.record.nodeId, w: n.record.warm! }));
  metric(
    'flotilla_node_warm_actors',
    'gauge',
    'Warm actor processes of a node, by state (ready, starting).',
    pools.flatMap(
      ({ node, w }) =>
        [
          [{ node, state: 'ready' }, w.ready],
          [{ node, state: 'starting' }, w.starting],
        ] as Array<[Record<string, string>, number]>,
    ),
  );
  metric(
    'flotilla_node_warm_actors_taken_total',
    'counter',
    'Placements that took a warm actor process, per node agent.',
    pools.map(({ node, w }) => [{ node }, w.taken]),
  );
  metric(
    'flotilla_node_warm_actors_reused_total',
    'counter',
    'Actor processes given back to their warm pool after a job, per node agent.',
    pools.map(({ node, w }) => [{ node }, w.reused ?? 0]),
  );
  const caps = new Map(capacity(jobs, nodes).map((c) => [c.nodeId, new Set(c.gpus ?? [])]));
  const held = new Set([
    ...jobs.flatMap((j) => j.placement.flatMap((p) => (p.gpus ?? []).map((g) => `${p.nodeId}/${g}`))),
    ...nodes.flatMap((n) => n.record.actors.flatMap((a) => (a.gpus ?? []).map((g) => `${n.record.nodeId}/${g}`))),
  ]);
  const gpus = nodes.flatMap((n) =>
    (n.record.gpus ?? []).map((g) => {
      const stats = n.record.gpu_stats?.find((x) => x.index === g.index);
      // free: placeable now (a draining node's are not, held or not)
      const free = caps.get(n.record.nodeId)?.has(g.index) ?? false;
      return {
        labels: { node: n.record.nodeId, gpu: String(g.index), model: g.model },
        g,
        stats,
        free,
        held: held.has(`${n.record.nodeId}/${g.index}`),
      };
    }),
  );
  metric('flotilla_gpus', 'gauge', 'GPUs advertised by live nodes.', [[{}, gpus.length]]);
  metric('flotilla_gpus_free', 'gauge', 'GPUs free for placement.', [[{}, gpus.filter((x) => x.free).length]]);
  metric(
    'flotilla_gpu_allocated',
    'gauge',
    'Whether a rank holds this GPU (1) or it is free (0).',
    gpus.map((x) => [x.labels, x.held ? 1 : 0]),
  );
  metric(
    'flotilla_gpu_memory_total_bytes',
    'gauge',
    'Memory of a GPU.',
    gpus.map((x) => [x.labels, x.g.memory_total_mib * 1048576]),
  );
  metric(
    'flotilla_gpu_memory_used_bytes',
    'gauge',
    'Memory in use on a GPU (nvidia-smi, refreshed with heartbeats).',
    gpus.filter((x) => x.stats).map((x) => [x.labels, x.stats!.memory_used_mib * 1048576]),
  );
  metric(
    'flotilla_gpu_utilization_ratio',
    'gauge',
    'Fraction of the last sample period a kernel ran on a GPU (nvidia-smi).',
    gpus.filter((x) => x.stats).map((x) => [x.labels, x.stats!.utilization_pct / 100]),
  );
  metric('flotilla_head_uptime_seconds', 'gauge', 'Seconds since this head started.', [[{}, extra.uptimeS]]);
  return `${lines.join('\n')}\n`;
}
