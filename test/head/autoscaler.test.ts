/** The autoscaler's decisions (driven step by step with an explicit clock) and the exec provider. */
import t from 'tap';
import { mkdtempSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { headFixture } from './helpers/head.ts';
import { until } from './helpers/wait.ts';
import type { FakeAgent } from './helpers/fake-agent.ts';
import { Autoscaler } from '../../head/autoscaler/autoscaler.ts';
import { ExecProvider } from '../../head/autoscaler/provider-exec.ts';
import type { WorkerProvider } from '../../head/autoscaler/provider.ts';
import { silentLogger } from '../../shared/logger.ts';

t.test('scales up for demand (bounded by maxWorkers), down to minWorkers after the idle timeout', async (t) => {
  const fx = await headFixture(t);
  const running = new Map<string, FakeAgent>();
  const provider: WorkerProvider = {
    name: 'fake',
    async up(id) {
      running.set(id, await fx.agent(id, 2));
    },
    async down(id) {
      await running.get(id)?.stop();
      running.delete(id);
    },
    list: () => [...running.keys()],
    async close() {
      for (const id of [...running.keys()]) await this.down(id);
    },
  };
  const as = new Autoscaler(
    fx.head.ctl,
    { provider, slotsPerWorker: 2, minWorkers: 1, maxWorkers: 2, idleTimeoutMs: 10_000 },
    silentLogger(),
  );
  let now = Date.now();
  await as.step(now);
  t.equal(running.size, 1, 'minWorkers kept');
  const job = (await fx.head.app.inject({ method: 'POST', url: '/v1/jobs', payload: { workers: 6, trainer: { kind: 'logreg' } } })).json();
  await until('demand visible', () => fx.head.ctl.jobs.get(job.id)?.state === 'pending');
  await as.step(now);
  t.equal(running.size, 2, 'scaled up, but not past maxWorkers (the job needs 3 workers)');
  await fx.head.app.inject({ method: 'PATCH', url: `/v1/jobs/${job.id}`, payload: { workers: 4 } });
  const placed = await until('placed on both', () => fx.head.ctl.jobs.get(job.id)?.state === 'running');
  t.ok(placed);
  // the spawns follow the placement (each with its minted credentials): wait until both nodes hold their ranks
  await until('spawned', () => [...running.values()].reduce((n, a) => n + a.of(job.id).length, 0) === 4);
  for (const a of running.values()) for (const s of a.of(job.id)) a.exit(s.actorId, { kind: 'succeeded' });
  await until('succeeded', () => fx.head.ctl.jobs.get(job.id)?.state === 'succeeded');
  await until('heartbeats show no actors', () => fx.head.ctl.nodes.list().every((n) => n.record.actors.length === 0));
  await as.step(now);
  t.equal(running.size, 2, 'idle, but not for long enough');
  now += 10_001;
  await as.step(now);
  await until('one stopped', () => running.size === 1);
  t.pass('scaled down to minWorkers');
  now += 60_000;
  await as.step(now);
  t.equal(running.size, 1, 'never below minWorkers');
  await as.stop();
  t.equal(running.size, 0, 'stop() closes the provider');
});

t.test('exec provider runs the user commands with the worker env', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'flotilla-exec-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const p = new ExecProvider({
    natsUrl: 'nats://example:4222',
    prefix: 'pfx',
    slots: 3,
    upCommand: `echo "$FLOTILLA_NATS_URL $FLOTILLA_PREFIX $FLOTILLA_SLOTS" > "${dir}/$FLOTILLA_NODE_ID"`,
    downCommand: `rm "${dir}/$FLOTILLA_NODE_ID"`,
  });
  await p.up('w1');
  t.equal(readFileSync(join(dir, 'w1'), 'utf8').trim(), 'nats://example:4222 pfx 3');
  t.same(p.list(), ['w1']);
  await p.down('w1');
  t.notOk(existsSync(join(dir, 'w1')));
  t.same(p.list(), []);
  const failing = new ExecProvider({ natsUrl: 'n', prefix: 'p', slots: 1, upCommand: 'echo no quota >&2; exit 3', downCommand: 'true' });
  await t.rejects(failing.up('w2'), { code: 'FLO_UNAVAILABLE', message: /exited 3: no quota/ });
  t.same(failing.list(), [], 'a failed start is not counted');
});
