/** What the live-recovery tests read about real processes: an agent's actor processes, liveness, a job's events. */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { Test } from 'tap';
import { HeadClient } from '../../bin/cli/client.ts';
import { startHead, type HeadOptions } from '../../head/head.ts';
import { startNatsServer, uniquePrefix } from '../kit/nats-server.ts';
import type { Cluster } from '../head/helpers/procs.ts';
import { decode, encode } from '../../shared/codec.ts';
import { ControlReply } from '../../shared/schemas/common.ts';
import type { JobEvent } from '../../shared/schemas/event.ts';
import type { JobRecord, JobSpecInput } from '../../shared/schemas/job.ts';
import { subjects } from '../../shared/subjects.ts';
import { until } from '../head/helpers/wait.ts';

/** A nats-server, a head on it (in this process, `opts` over short test timeouts), a client connection and the REST client; torn down with `t`. */
export async function liveCluster(
  t: Test,
  tag: string,
  opts: Partial<HeadOptions> = {},
): Promise<{ c: Cluster; nc: NatsConnection; api: HeadClient }> {
  const nats = await startNatsServer();
  t.teardown(() => nats.stop());
  const c = { natsUrl: nats.url, auth: nats.auth, prefix: uniquePrefix(tag) };
  const head = await startHead({ ...c, ...nats.auth?.headOptions, port: 0, deadAfterMs: 2000, restartBackoffMs: 200, ...opts });
  t.teardown(() => head.stop());
  const nc = await connect(nats.options());
  t.teardown(() => nc.close());
  return { c, nc, api: new HeadClient(head.url) };
}

export interface ActorProc {
  pid: number;
  actorId: string;
  rank: number;
  generation: number;
}

/**
 * The job's actors as they answer `status` over NATS (pid, rank, generation), for every entry of
 * its current placement that answers; a warm actor's spec came over IPC, so it cannot be read
 * from the process's environment.
 */
export async function actorsOf(nc: NatsConnection, prefix: string, job: Pick<JobRecord, 'placement'>): Promise<ActorProc[]> {
  const s = subjects(prefix);
  const out = await Promise.all(
    job.placement.map(async (p) => {
      try {
        const m = await nc.request(s.actorCall(p.actorId), encode({ method: 'status' }), { timeout: 5000 });
        const r = decode(ControlReply, m.data);
        if (!r.ok) return [];
        const st = r.result as { pid: number; rank: number; generation: number };
        return [{ pid: st.pid, actorId: p.actorId, rank: st.rank, generation: st.generation }];
      } catch {
        return [];
      }
    }),
  );
  return out.flat();
}

export const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

export async function eventsOf(api: HeadClient, id: string): Promise<JobEvent[]> {
  const events: JobEvent[] = [];
  for await (const e of api.events(id, { follow: false })) events.push(e.event);
  return events;
}

/** The `state step=… source=… state_sha256=…` lines the trainers log after a gang agreed on a state. */
export function stateLines(
  events: readonly JobEvent[],
  generation: number,
): { rank?: number; msg: string; sha?: string; source?: string }[] {
  return events.flatMap((e) =>
    e.type === 'log' && e.generation === generation && /^state /.test(e.msg)
      ? [{ rank: e.rank, msg: e.msg, sha: /state_sha256=([0-9a-f]+)/.exec(e.msg)?.[1], source: /source=(\w+)/.exec(e.msg)?.[1] }]
      : [],
  );
}

/** The weights' digests (`done … params_sha256=…`) the ranks of `generation` logged when they finished. */
export const doneDigests = (events: readonly JobEvent[], generation: number): string[] =>
  events.flatMap((e) =>
    e.type === 'log' && e.generation === generation && /^done /.test(e.msg) ? [/params_sha256=([0-9a-f]+)/.exec(e.msg)![1]] : [],
  );

/** Waits (up to `ms`) until the job is succeeded, failed or cancelled; returns its record. */
export const finished = (api: HeadClient, id: string, ms = 120_000): Promise<JobRecord> =>
  until(
    `job ${id} finished`,
    async () => {
      const j = await api.get(id);
      return ['succeeded', 'failed', 'cancelled'].includes(j.state) && j;
    },
    ms,
  );

/**
 * The fault-free reference: runs `spec` to its end and returns the digests its ranks logged,
 * read at the generation it finished in (on a loaded machine an actor may fail to start, a NATS
 * connect timeout, and the reference restarts, which changes nothing in its weights).
 */
export async function referenceDigests(t: Test, api: HeadClient, spec: JobSpecInput): Promise<string[]> {
  const ref = await api.submit(spec);
  const done = await finished(api, ref.id);
  t.equal(done.state, 'succeeded', 'the fault-free run succeeded');
  const digests = doneDigests(await eventsOf(api, ref.id), done.generation);
  t.equal(digests.length, spec.workers, 'every rank of the reference reported its weights');
  return digests;
}
