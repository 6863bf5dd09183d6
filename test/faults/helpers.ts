/**
 * Helpers of the fault-injection tests: a cluster of a real nats-server (with auth), a head and
 * worker agent processes; the process table read directly (/proc), never through the platform;
 * a job's events read back from the head's stream.
 */
import { readFileSync, readdirSync } from 'node:fs';
import type { Test } from 'tap';
import { startNatsServer, uniquePrefix, type NatsServer } from '../kit/nats-server.ts';
import { startHead, type Head } from '../../head/head.ts';
import { HeadClient } from '../../bin/cli/client.ts';
import { startAgentProc, type Cluster, type Proc } from '../head/helpers/procs.ts';
import type { JobEvent } from '../../shared/schemas/event.ts';
import type { JobRecord } from '../../shared/schemas/job.ts';
import { until } from '../head/helpers/wait.ts';

export interface FaultCluster {
  nats: NatsServer;
  c: Cluster;
  head: Head;
  api: HeadClient;
  agents: Record<string, Proc>;
}

export async function faultCluster(t: Test, nodes: Record<string, number>, tag: string): Promise<FaultCluster> {
  const nats = await startNatsServer();
  t.teardown(() => nats.stop());
  const c: Cluster = { natsUrl: nats.url, auth: nats.auth, prefix: uniquePrefix(tag) };
  const head = await startHead({ ...c, ...nats.auth?.headOptions, port: 0, deadAfterMs: 2000, restartBackoffMs: 200 });
  t.teardown(() => head.stop());
  const agents: Record<string, Proc> = {};
  await Promise.all(
    Object.entries(nodes).map(async ([id, slots]) => {
      agents[id] = await startAgentProc(t, c, id, slots);
    }),
  );
  return { nats, c, head, api: new HeadClient(head.url), agents };
}

/** The PID of an actor process, found in the process table by the actor id in its environment. */
export function actorPid(actorId: string): number | undefined {
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    let env: string;
    try {
      env = readFileSync(`/proc/${d}/environ`, 'latin1');
    } catch {
      continue;
    }
    if (env.includes('FLOTILLA_ACTOR_SPEC=') && env.includes(`"actorId":"${actorId}"`)) return Number(d);
  }
  return undefined;
}

/** The process state letter of /proc/PID/stat (R, S, T, Z, …), or undefined when it is gone. */
export function procState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
  } catch {
    return undefined;
  }
}

export async function jobEvents(api: HeadClient, id: string): Promise<JobEvent[]> {
  const out: JobEvent[] = [];
  for await (const e of api.events(id, { follow: false })) out.push(e.event);
  return out;
}

export type FaultEvent = Extract<JobEvent, { type: 'fault' }>;

export function faultEvents(events: readonly JobEvent[], id?: string): FaultEvent[] {
  return events.filter((e): e is FaultEvent => e.type === 'fault' && (id === undefined || e.fault_id === id));
}

/** Waits until fault `id` has an event of `phase`; resolves with it. */
export async function faultPhase(
  api: HeadClient,
  jobId: string,
  id: string,
  phase: FaultEvent['phase'],
  limitMs = 60_000,
): Promise<FaultEvent> {
  return until(`fault ${id} ${phase}`, async () => faultEvents(await jobEvents(api, jobId), id).find((e) => e.phase === phase), limitMs);
}

export async function finished(api: HeadClient, id: string, limitMs = 120_000): Promise<JobRecord> {
  return until(
    `job ${id} finished`,
    async () => {
      const j = await api.get(id);
      return ['succeeded', 'failed', 'cancelled'].includes(j.state) && j;
    },
    limitMs,
  );
}
