/** What the live-recovery tests read about real processes: an agent's actor processes, liveness, a job's events. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { HeadClient } from '../../bin/cli/client.ts';
import type { JobEvent } from '../../shared/schemas/event.ts';
import type { Proc } from '../head/helpers/procs.ts';

export interface ActorProc { pid: number; actorId: string; rank: number; generation: number }

/** The agent's actor processes, read from their FLOTILLA_ACTOR_SPEC (the spec they started with). */
export function actorsOf(agent: Proc): ActorProc[] {
  let out = '';
  try { out = execFileSync('ps', ['--ppid', String(agent.pid), '-o', 'pid='], { encoding: 'utf8' }); } catch { return []; }
  return out.split('\n').map((l) => Number(l.trim())).filter((p) => p > 0).flatMap((pid) => {
    try {
      const env = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').find((e) => e.startsWith('FLOTILLA_ACTOR_SPEC='));
      if (!env) return [];
      const spec = JSON.parse(env.slice('FLOTILLA_ACTOR_SPEC='.length)) as { actorId: string; rank: number; generation: number };
      return [{ pid, actorId: spec.actorId, rank: spec.rank, generation: spec.generation }];
    } catch { return []; }
  });
}

export const alive = (pid: number): boolean => { try { process.kill(pid, 0); return true; } catch { return false; } };

export async function eventsOf(api: HeadClient, id: string): Promise<JobEvent[]> {
  const events: JobEvent[] = [];
  for await (const e of api.events(id, { follow: false })) events.push(e.event);
  return events;
}

/** The `state step=… source=… state_sha256=…` lines the trainers log after a gang agreed on a state. */
export function stateLines(events: readonly JobEvent[], generation: number): { rank?: number; msg: string; sha?: string; source?: string }[] {
  return events.flatMap((e) => (e.type === 'log' && e.generation === generation && /^state /.test(e.msg)
    ? [{ rank: e.rank, msg: e.msg, sha: /state_sha256=([0-9a-f]+)/.exec(e.msg)?.[1], source: /source=(\w+)/.exec(e.msg)?.[1] }] : []));
}
