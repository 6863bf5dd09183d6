/** One display row per GPU of the live workers (`flotilla status`). */
import type { WorkerRow } from './client.ts';

export interface GpuRow {
  node: string;
  index: number;
  model: string;
  /** "used / total GiB", or "- / total GiB" without live figures (a declared inventory) */
  memory: string;
  util: string;
  /** free, or the job#rank holding it */
  state: string;
}

const gib = (mib: number) => (mib / 1024).toFixed(1);

export function gpuRows(workers: readonly WorkerRow[]): GpuRow[] {
  return workers.flatMap((w) =>
    (w.gpus ?? []).map((g) => {
      const s = w.gpu_stats?.find((x) => x.index === g.index);
      const holder = w.actors.find((a) => a.gpus?.includes(g.index));
      const free = w.gpus_free?.includes(g.index) ?? false;
      return {
        node: w.nodeId,
        index: g.index,
        model: g.model,
        memory: `${s ? gib(s.memory_used_mib) : '-'} / ${gib(g.memory_total_mib)} GiB`,
        util: s ? `${Math.round(s.utilization_pct)}%` : '-',
        state: holder ? `${holder.jobId}#${holder.rank}` : free ? 'free' : w.draining ? 'draining' : 'placed',
      };
    }),
  );
}
