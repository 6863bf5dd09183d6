import t from 'tap';
import { JobSpec } from '../../shared/schemas/job.ts';
import type { HeadJob } from '../../head/state/job-store.ts';
import { placed, endGeneration, rankSucceeded, cancelled, rescaled, canTransition } from '../../head/state/transitions.ts';
import { waitQueue } from '../../head/scheduler/queue.ts';

function job(over: Partial<HeadJob> = {}): HeadJob {
  const now = new Date(0).toISOString();
  return {
    id: 'j1',
    spec: JobSpec.parse({ workers: 2, max_restarts: 1, trainer: { kind: 'logreg' } }),
    state: 'pending',
    generation: 0,
    restarts: 0,
    step: 0,
    checkpoint_step: null,
    placement: [],
    metrics: {},
    created_at: now,
    updated_at: now,
    seq: 1,
    finished: [],
    ...over,
  };
}
const two = [
  { rank: 0, nodeId: 'n', actorId: 'a0' },
  { rank: 1, nodeId: 'n', actorId: 'a1' },
];

t.test('the lifecycle table', async (t) => {
  t.ok(canTransition('pending', 'running'));
  t.ok(canTransition('running', 'recovering'));
  t.ok(canTransition('recovering', 'running'));
  t.notOk(canTransition('pending', 'succeeded'));
  t.notOk(canTransition('succeeded', 'running'));
  t.notOk(canTransition('cancelled', 'running'));
});

t.test('succeeds only when every rank of the generation succeeded', async (t) => {
  let j = placed(job(), two, 1000);
  t.equal(j.state, 'running');
  j = rankSucceeded(j, 1);
  t.equal(j.state, 'running');
  j = rankSucceeded(j, 1);
  t.same(j.finished, [1], 'a redelivered exit is idempotent');
  j = rankSucceeded(j, 0);
  t.equal(j.state, 'succeeded');
  t.same(j.placement, []);
});

t.test('a failure bumps the generation, rolls the step back to the checkpoint, backs off, then gives up', async (t) => {
  let j: HeadJob = { ...placed(job(), two, 0), step: 17, checkpoint_step: 10 };
  j = endGeneration(j, 'retryable', 'rank 1 died', 100, 5000);
  t.equal(j.state, 'recovering');
  t.equal(j.generation, 1);
  t.equal(j.restarts, 1);
  t.equal(j.step, 10);
  t.equal(j.not_before, new Date(5100).toISOString());
  t.same(j.placement, []);
  j = endGeneration(placed(j, two, 0), 'retryable', 'again', 100, 0);
  t.equal(j.state, 'failed', 'max_restarts = 1');
  t.equal(j.generation, 2);
});

t.test('fatal fails at once; rescale does not count as a restart', async (t) => {
  t.equal(endGeneration(placed(job(), two, 0), 'fatal', 'bad input', 100, 0).state, 'failed');
  const r = rescaled(placed(job(), two, 0), 3, 0);
  t.equal(r.state, 'recovering');
  t.equal(r.restarts, 0);
  t.equal(r.spec.workers, 3);
  t.equal(r.not_before, undefined);
  const p = rescaled(job(), 5, 0);
  t.equal(p.state, 'pending');
  t.equal(p.spec.workers, 5);
});

t.test('cancel works from pending, running and recovering, never from a terminal state', async (t) => {
  t.equal(cancelled(job()).state, 'cancelled');
  const c = cancelled(placed(job(), two, 0));
  t.equal(c.state, 'cancelled');
  t.equal(c.generation, 1, 'running actors are aborted by a new generation');
  t.equal(cancelled(endGeneration(placed(job(), two, 0), 'retryable', 'x', 10, 0)).state, 'cancelled');
  t.throws(() => cancelled(cancelled(job())), { code: 'FLO_INVALID_STATE' });
});

t.test('queue order: recovering first, then priority, then FIFO', async (t) => {
  const hi = job({ id: 'hi', seq: 3, spec: { ...job().spec, priority: 5 } });
  const old = job({ id: 'old', seq: 1 });
  const young = job({ id: 'young', seq: 2 });
  const rec = job({ id: 'rec', seq: 9, state: 'recovering' });
  const later = job({ id: 'later', seq: 0, state: 'recovering', not_before: new Date(10_000).toISOString() });
  t.same(
    waitQueue([young, old, hi, rec, later], 5000).map((j) => j.id),
    ['rec', 'hi', 'old', 'young'],
  );
});

t.test('liveness: silent nodes, and placed actors nobody reports', async (t) => {
  const { deadNodes, missingActors } = await import('../../head/supervisor/liveness.ts');
  const node = (nodeId: string, heardAt: number, actors: string[], lateMs = 0) => ({
    heardAt,
    lateMs,
    lags: [],
    beats: 0,
    record: {
      nodeId,
      host: 'h',
      slots: 2,
      backend: 'cpu' as const,
      device: 'd',
      pid: 1,
      started_at: '',
      last_seen: heardAt,
      draining: false,
      actors: actors.map((actorId) => ({ actorId, jobId: 'j1', generation: 0, rank: 0 })),
    },
  });
  t.same(deadNodes([node('a', 1000, []), node('b', 5000, [])], 5000, 3000), ['a']);
  t.same(
    deadNodes([node('slow', 1000, [], 2500), node('dead', 1000, [])], 5000, 3000),
    ['dead'],
    'a node whose beats ran 2.5 s late gets 2.5 s more',
  );
  t.same(deadNodes([node('slow', 1000, [], 60_000)], 10_001, 3000), ['slow'], 'the extra silence is capped at 2 dead periods');
  t.same(deadNodes([node('a', 1000, [])], 5000, 3000, 4000), [], 'silence before the head view became whole does not count');
  const j = {
    ...placed(
      job(),
      [
        { rank: 0, nodeId: 'a', actorId: 'a0' },
        { rank: 1, nodeId: 'gone', actorId: 'a1' },
      ],
      1000,
    ),
  };
  const nodes = new Map([['a', node('a', 5000, ['a0'])]]);
  const seen = new Map<string, number>();
  t.same(missingActors([j], nodes, seen, 3000, 5000, 0), [], 'within the grace period');
  t.same(
    missingActors([j], nodes, seen, 7000, 5000, 0).map((m) => m.actorId),
    ['a1'],
    'an actor on an unknown node is missing after the grace',
  );
  t.equal(seen.get('a0'), 7000, 'reported actors are remembered');
  t.same(missingActors([j], nodes, seen, 7000, 5000, 6000), [], 'a new head gives every actor a full grace');
});

t.test("live recovery keeps the survivors' placement and replaces only the lost rank", async (t) => {
  const { liveRecovery, missingRanks } = await import('../../head/state/transitions.ts');
  const { planPass } = await import('../../head/scheduler/plan.ts');
  const running = placed(
    job({ restarts: 0, spec: JobSpec.parse({ workers: 2, max_restarts: 2, trainer: { kind: 'logreg' } }), step: 17, checkpoint_step: 10 }),
    two,
    1000,
  );
  const j = liveRecovery(running, ['a1'], 'rank 1 failed', 2000);
  t.ok(j);
  if (!j) return;
  t.equal(j.state, 'recovering');
  t.equal(j.generation, 1, 'a new generation');
  t.same(j.placement, [two[0]], 'the survivor keeps its actor id, node and rank');
  t.equal(j.step, 17, 'the step is not rolled back to the checkpoint');
  t.equal(j.restarts, 1, 'counted as a restart');
  t.equal(j.not_before, undefined, 'no backoff: the survivor waits');
  t.same(missingRanks(j), [1]);
  t.same(
    waitQueue([j], 2000).map((x) => x.id),
    ['j1'],
    'waits for its lost rank',
  );
  const node = (nodeId: string, slots: number) =>
    ({ record: { nodeId, slots, draining: false, actors: [] }, heardAt: 0, lateMs: 0 }) as never;
  const plan = planPass([j], [node('n', 1), node('m', 2)], 2000);
  t.equal(plan.length, 1);
  t.equal(plan[0].nodeOfRank[0], 'n', 'rank 0 stays on its node');
  t.equal(plan[0].nodeOfRank.length, 2, 'the whole gang is named');
  t.equal(liveRecovery(running, ['a0', 'a1'], 'both lost', 2000), null, 'no survivor: the checkpoint path');
  t.equal(liveRecovery(rankSucceeded(running, 0, 5), ['a1'], 'late', 2000), null, 'a rank already finished: the checkpoint path');
  const spent = liveRecovery({ ...running, restarts: 2 }, ['a1'], 'again', 2000);
  t.equal(spent?.state, 'failed', 'max_restarts still applies');
  const drained = liveRecovery({ ...running, restarts: 2 }, ['a1'], 'node m is draining', 2000, false);
  t.equal(drained?.state, 'recovering', 'a drain is not a failure: max_restarts spent or not, the survivor stays');
  t.equal(drained?.restarts, 2, 'a drain is not counted as a restart');
  t.same(drained?.placement, [two[0]], "only the leaving node's rank is placed again");
  t.equal(drained?.step, 17, 'the survivor holds the step');
});

t.test('one incident that takes several ranks (a nats-server dies) is counted once', async (t) => {
  const { liveRecovery, sameIncident, incidentRestart } = await import('../../head/state/transitions.ts');
  const running = placed(
    job({ spec: JobSpec.parse({ workers: 2, max_restarts: 3, trainer: { kind: 'logreg' } }), step: 17, checkpoint_step: 15 }),
    two,
    1000,
  );
  t.notOk(sameIncident(running), 'no regroup yet: a failure is a new incident');
  const regroup = liveRecovery(running, ['a1'], 'rank 1 failed: raw lane closed', 2000);
  if (!regroup) {
    t.fail('live recovery expected');
    return;
  }
  t.equal(regroup.restarts, 1);
  t.ok(sameIncident(regroup), 'the kept rank failing while the gang regroups is the same incident');
  t.ok(sameIncident(placed(regroup, two, 2500)), 'also once the replacement is placed, before any step');
  const again = incidentRestart(placed(regroup, two, 2500), 'rank 0 failed: raw lane closed', 100, 3000);
  t.equal(again.restarts, 1, 'not counted again');
  t.equal(again.not_before, new Date(3000 + 200).toISOString(), "the counted restart's backoff (the cluster may still be recovering)");
  t.equal(again.generation, regroup.generation + 1, 'a new generation');
  t.same(again.placement, [], 'a full restart from the checkpoint');
  t.equal(again.step, 15);
  t.match(again.message, /same incident as generation 1/);
  t.notOk(sameIncident(again), 'the full restart is no regroup: its next failure is counted');
  const moved = { ...placed(regroup, two, 2500), step: 18 };
  t.notOk(sameIncident(moved), 'the gang trained a step after the regroup: a later failure is a new incident');
  const next = liveRecovery(moved, ['a0'], 'rank 0 failed', 4000);
  t.equal(next?.restarts, 2, 'and is counted');
});

t.test('elastic live recovery: the survivors go on at once as ranks 0..k-1, and grow back', async (t) => {
  const { liveRecovery, grown } = await import('../../head/state/transitions.ts');
  const { planPass } = await import('../../head/scheduler/plan.ts');
  const three = [...two, { rank: 2, nodeId: 'm', actorId: 'a2' }];
  const running = placed(
    job({ spec: JobSpec.parse({ workers: 3, min_workers: 2, max_restarts: 3, trainer: { kind: 'logreg' } }), step: 9 }),
    three,
    1000,
  );
  const j = liveRecovery(running, ['a1'], 'rank 1 failed', 2000);
  t.equal(j?.state, 'running', 'no wait');
  t.same(
    j?.placement,
    [
      { rank: 0, nodeId: 'n', actorId: 'a0' },
      { rank: 1, nodeId: 'm', actorId: 'a2' },
    ],
    'renumbered in rank order',
  );
  t.equal(j?.generation, 1);
  t.equal(j?.placed_at, 2000);
  t.equal(liveRecovery(running, ['a1', 'a2'], 'two lost', 2000), null, 'below min_workers: the checkpoint path');
  const g = grown(j!);
  t.equal(g.state, 'recovering');
  t.equal(g.generation, 2);
  const node = (nodeId: string, slots: number) =>
    ({ record: { nodeId, slots, draining: false, actors: [] }, heardAt: 0, lateMs: 0 }) as never;
  const plan = planPass([g], [node('n', 1), node('m', 1), node('o', 1)], 3000);
  t.same(plan[0]?.nodeOfRank, ['n', 'm', 'o'], 'the new rank is rank 2, on the free node');
  const yolo = placed(job({ spec: JobSpec.parse({ workers: 3, min_workers: 2, trainer: { kind: 'yolov5' } }) }), three, 1000);
  t.equal(liveRecovery(yolo, ['a1'], 'lost', 2000), null, 'an elastic YOLOv5 job shrinks through the checkpoint path');
});
