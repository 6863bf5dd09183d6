import t from 'tap';
import { gpuRows } from '../../bin/cli/gpu-rows.ts';
import type { WorkerRow } from '../../bin/cli/client.ts';

const worker = (over: Partial<WorkerRow>): WorkerRow => ({
  nodeId: 'n',
  host: 'h',
  slots: 2,
  backend: 'cpu',
  device: 'd',
  pid: 1,
  started_at: '',
  last_seen: 0,
  draining: false,
  actors: [],
  free: 2,
  alive_ms_ago: 0,
  ...over,
});

t.test('flotilla status: one row per GPU with memory, utilisation and who holds it', async (t) => {
  const rows = gpuRows([
    worker({
      nodeId: 'g2',
      gpus: [
        { index: 0, model: 'NVIDIA H100', memory_total_mib: 81920 },
        { index: 1, model: 'NVIDIA H100', memory_total_mib: 81920 },
      ],
      gpu_stats: [
        { index: 0, memory_used_mib: 10240, utilization_pct: 87.4 },
        { index: 1, memory_used_mib: 0, utilization_pct: 0 },
      ],
      actors: [{ actorId: 'a', jobId: 'job1', generation: 0, rank: 3, gpus: [0] }],
      gpus_free: [1],
    }),
    worker({ nodeId: 'g1', gpus: [{ index: 0, model: 'Fake A10', memory_total_mib: 24576 }], gpus_free: [] }),
    worker({ nodeId: 'cpu' }),
  ]);
  t.same(rows, [
    { node: 'g2', index: 0, model: 'NVIDIA H100', memory: '10.0 / 80.0 GiB', util: '87%', state: 'job1#3' },
    { node: 'g2', index: 1, model: 'NVIDIA H100', memory: '0.0 / 80.0 GiB', util: '0%', state: 'free' },
    { node: 'g1', index: 0, model: 'Fake A10', memory: '- / 24.0 GiB', util: '-', state: 'placed' },
  ]);
});
