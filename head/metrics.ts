/** Prometheus text exposition (format 0.0.4) of the head's view of jobs and nodes. */
import { JOB_STATES } from '../shared/schemas/job.ts';
import type { HeadJob } from './state/job-store.ts';
import type { LiveNode } from './state/node-store.ts';
import { capacity } from './scheduler/plan.ts';

function esc(v: string): string { return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n'); }

export function renderMetrics(jobs: readonly HeadJob[], nodes: readonly LiveNode[], extra: { uptimeS: number }): string {
  const lines: string[] = [];
  const metric = (name: string, type: 'gauge' | 'counter', help: string, rows: Array<[Record<string, string>, number]>) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, v] of rows) {
      const l = Object.entries(labels).map(([k, x]) => `${k}="${esc(x)}"`).join(',');
      lines.push(`${name}${l ? `{${l}}` : ''} ${v}`);
    }
  };
  metric('flotilla_jobs', 'gauge', 'Jobs by state.', JOB_STATES.map((s) => [{ state: s }, jobs.filter((j) => j.state === s).length]));
  const active = jobs.filter((j) => j.state === 'running' || j.state === 'recovering');
  metric('flotilla_job_step', 'gauge', 'Last step reported by rank 0 of an active job.', active.map((j) => [{ job: j.id }, j.step]));
  metric('flotilla_job_generation', 'gauge', 'Generation of an active job.', active.map((j) => [{ job: j.id }, j.generation]));
  metric('flotilla_job_restarts_total', 'counter', 'Gang restarts of a job.', jobs.map((j) => [{ job: j.id }, j.restarts]));
  metric('flotilla_workers', 'gauge', 'Live worker nodes.', [[{}, nodes.length]]);
  metric('flotilla_workers_draining', 'gauge', 'Worker nodes that are draining.', [[{}, nodes.filter((n) => n.record.draining).length]]);
  const slots = nodes.reduce((a, n) => a + n.record.slots, 0);
  const free = capacity(jobs, nodes).reduce((a, n) => a + n.free, 0);
  metric('flotilla_slots', 'gauge', 'Actor slots of live nodes.', [[{}, slots]]);
  metric('flotilla_slots_free', 'gauge', 'Actor slots free for placement.', [[{}, free]]);
  const pools = nodes.filter((n) => n.record.warm).map((n) => ({ node: n.record.nodeId, w: n.record.warm! }));
  metric('flotilla_node_warm_actors', 'gauge', 'Warm actor processes of a node, by state (ready, starting).',
    pools.flatMap(({ node, w }) => [[{ node, state: 'ready' }, w.ready], [{ node, state: 'starting' }, w.starting]] as Array<[Record<string, string>, number]>));
  metric('flotilla_node_warm_actors_taken_total', 'counter', 'Placements that took a warm actor process, per node agent.', pools.map(({ node, w }) => [{ node }, w.taken]));
  metric('flotilla_node_warm_actors_reused_total', 'counter', 'Actor processes given back to their warm pool after a job, per node agent.', pools.map(({ node, w }) => [{ node }, w.reused ?? 0]));
  metric('flotilla_head_uptime_seconds', 'gauge', 'Seconds since this head started.', [[{}, extra.uptimeS]]);
  return `${lines.join('\n')}\n`;
}
