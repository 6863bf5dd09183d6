/** Helpers for collective tests: N ranks in this process, each with its own connections. */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { createGroup, type Group, type GroupOptions } from '../../worker/collective/index.ts';
import { subjects } from '../../shared/subjects.ts';

export interface Ranks {
  groups: Group[];
  conns: NatsConnection[];
  close(): Promise<void>;
}

export type RankOptions = Partial<Omit<GroupOptions, 'nc' | 'rank' | 'worldSize' | 'connect'>> & { lanes?: number };

/** Joins `n` ranks of one group (concurrently, as separate processes would). */
export async function startRanks(url: string, prefix: string, n: number, o: RankOptions = {}): Promise<Ranks> {
  const conns: NatsConnection[] = [];
  for (let r = 0; r < n; r++) conns.push(await connect({ servers: url }));
  const jobId = o.jobId ?? 'job1';
  const generation = o.generation ?? 1;
  const groups = await Promise.all(
    conns.map((nc, rank) =>
      createGroup({
        nc,
        connect: o.lanes ? () => connect({ servers: url }) : undefined,
        subjectBase: o.subjectBase ?? subjects(prefix).collective(jobId, generation),
        jobId,
        generation,
        rank,
        worldSize: n,
        timeoutMs: o.timeoutMs ?? 20_000,
        ...o,
      }),
    ),
  );
  return {
    groups,
    conns,
    async close() {
      await Promise.all(groups.map((g) => g.close()));
      await Promise.all(conns.map((c) => c.close()));
    },
  };
}

/** Rank r's input: integer-valued, different per rank and element, negative and positive. */
export function input(rank: number, length: number, salt = 0): Float32Array {
  const a = new Float32Array(length);
  for (let i = 0; i < length; i++) a[i] = ((i * 7 + rank * 13 + salt * 31) % 101) - 50;
  return a;
}

/** The sum over ranks computed in float64, independently of the library. */
export function expectedSum(n: number, length: number, salt = 0): Float64Array {
  const s = new Float64Array(length);
  for (let r = 0; r < n; r++) {
    const a = input(r, length, salt);
    for (let i = 0; i < length; i++) s[i] += a[i];
  }
  return s;
}

/** Index of the first element where a and b differ by more than tol, or -1. */
export function firstMismatch(a: Float32Array, b: ArrayLike<number>, tol = 0): number {
  if (a.length !== b.length) return -2;
  for (let i = 0; i < a.length; i++) if (!(Math.abs(a[i] - b[i]) <= tol)) return i;
  return -1;
}
