/**
 * What the NATS-outage tests share: a server outage at a training step (SIGKILL, back after
 * `downMs` on the same port and store) and the verdict on a job that went through it: it
 * succeeded in its first generation with no restart, and rank 0 reported every step once, in
 * order (so no step was lost or redone), with the time from the server's return to the next step.
 */
import type { Test } from 'tap';
import type { HeadClient } from '../../bin/cli/client.ts';
import type { JobEvent } from '../../shared/schemas/event.ts';
import { trainedGenerations } from '../../head/report/steps.ts';
import { until } from '../head/helpers/wait.ts';
import { eventsOf, finished } from './live-helpers.ts';

export interface Outage {
  atStep: number;
  killedAt: number;
  backAt: number;
  downMs: number;
}

/** Waits for step >= `step` of a running job, then SIGKILLs the server (`kill`) and starts it again (`restart`) `downMs` later. */
export async function outageAt(
  t: Test,
  api: HeadClient,
  jobId: string,
  step: number,
  downMs: number,
  server: { kill(): Promise<void>; restart(): Promise<void> },
  limitMs = 300_000,
): Promise<Outage> {
  const cur = await until(
    `step ${step}`,
    async () => {
      const j = await api.get(jobId).catch(() => undefined); // the head may still be reconnecting after an earlier outage
      if (j && ['succeeded', 'failed', 'cancelled'].includes(j.state))
        throw new Error(`job ${jobId} ${j.state} before step ${step} (${j.message ?? ''})`);
      return j && j.state === 'running' && j.step >= step && j;
    },
    limitMs,
  );
  const killedAt = Date.now();
  await server.kill();
  t.comment(`SIGKILL of nats-server at step ${cur.step}, back in ${downMs} ms`);
  await new Promise((r) => setTimeout(r, downMs));
  await server.restart();
  return { atStep: cur.step, killedAt, backAt: Date.now(), downMs };
}

/** Rank 0's step reports in stream order (one per step; a repeat of the same step counts once). */
export function rank0Steps(events: readonly JobEvent[]): { step: number; ts: number; generation: number }[] {
  const out: { step: number; ts: number; generation: number }[] = [];
  for (const e of events) {
    if (e.type !== 'metric' || e.rank !== 0) continue;
    if (out.at(-1)?.step === e.step && out.at(-1)?.generation === e.generation) continue;
    out.push({ step: e.step, ts: e.ts, generation: e.generation });
  }
  return out;
}

/** ms from the server's return to rank 0's next reported step, and the step. */
export function nextStepAfter(events: readonly JobEvent[], o: Outage): { ms: number; step: number } | undefined {
  const next = rank0Steps(events).find((s) => s.ts >= o.backAt);
  return next && { ms: next.ts - o.backAt, step: next.step };
}

/**
 * The job finished: succeeded, no restart, still generation 0, rank 0 reported steps 1..`steps`
 * each once and in order (nothing lost, nothing redone); prints the time to the next step after each outage.
 */
export async function expectNoLoss(
  t: Test,
  api: HeadClient,
  jobId: string,
  steps: number,
  outages: Outage[],
  limitMs = 300_000,
): Promise<JobEvent[]> {
  const done = await finished(api, jobId, limitMs);
  t.equal(done.state, 'succeeded', `job succeeded (${done.message ?? ''})`);
  t.equal(done.restarts, 0, 'no gang restart');
  t.equal(done.generation, 0, 'still its first generation');
  const events = await eventsOf(api, jobId);
  const gens = trainedGenerations(events);
  t.same(
    gens.generations.map((g) => g.generation),
    [0],
    'one training generation',
  );
  const reported = rank0Steps(events).map((s) => s.step);
  const expected = Array.from({ length: steps }, (_, i) => i + 1);
  const gaps = expected.filter((s) => !reported.includes(s));
  t.same(
    reported,
    expected,
    `every step reported once, in order (${gaps.length} missing${gaps.length ? `: ${gaps.slice(0, 10).join(', ')}` : ''}, ${reported.length} reports)`,
  );
  for (const o of outages) {
    const next = nextStepAfter(events, o);
    t.comment(
      `outage of ${o.downMs} ms at step ${o.atStep}: next step ${next ? `${next.step}, ${next.ms} ms after the server was back` : 'none'}`,
    );
  }
  return events;
}
