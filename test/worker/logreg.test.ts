import t from 'tap';
import { Objm } from '@nats-io/obj';
import { decode } from '../../shared/codec.ts';
import { JobEvent, type ActorExit } from '../../shared/schemas/index.ts';
import { checkpointName, CheckpointStore } from '../../worker/actor/index.ts';
import { actorSpec, Collector, control, exits, jobSpec, natsEnv, startTestAgent, type Env } from './helpers.ts';

type Metric = Extract<JobEvent, { type: 'metric' }>;
type Log = Extract<JobEvent, { type: 'log' }>;

/** Runs one generation of job `jobId` with `world` ranks on one agent; resolves with the exits. */
async function runGeneration(
  env: Env,
  ex: Collector<ActorExit>,
  jobId: string,
  generation: number,
  world: number,
  steps: number,
): Promise<ActorExit[]> {
  const job = jobSpec({
    workers: world,
    checkpoint_every: 20,
    trainer: { kind: 'logreg', steps, features: 8, batch: 32, lr: 0.5, seed: 7 },
  });
  for (let rank = 0; rank < world; rank++) {
    const actor = actorSpec({
      jobId,
      actorId: `${jobId}-g${generation}-r${rank}`,
      generation,
      rank,
      worldSize: world,
      nodeId: 'node-lr',
      job,
    });
    const r = await control(env.nc, env.s.nodeControl('node-lr'), { op: 'spawn', actor });
    if (!r.ok) throw new Error(`spawn refused: ${r.error.message}`);
  }
  const out: ActorExit[] = [];
  for (let rank = 0; rank < world; rank++)
    out.push(await ex.next((e) => e.jobId === jobId && e.generation === generation && e.rank === rank));
  return out;
}

t.test(
  'logreg with worldSize 2 in two actor processes: low loss, identical weights, resume from the newest valid checkpoint',
  async (t) => {
    const env = await natsEnv(t, 'lr');
    const ex = exits(env.nc, env.s);
    const events = new Collector(env.nc, env.s.jobEvents('jlr'), (m) => decode(JobEvent, m.data));
    await startTestAgent(t, env, { nodeId: 'node-lr', slots: 2 });
    const metrics = (g: number) => events.items.filter((e): e is Metric => e.type === 'metric' && e.generation === g);
    const doneLogs = (g: number) => events.items.filter((e): e is Log => e.type === 'log' && e.generation === g && /^done /.test(e.msg));

    // Generation 0: 60 steps from scratch.
    const g0 = await runGeneration(env, ex, 'jlr', 0, 2, 60);
    t.same(
      g0.map((e) => e.outcome.kind),
      ['succeeded', 'succeeded'],
      'both ranks succeeded',
    );
    const m0 = metrics(0);
    t.same(
      m0.map((m) => m.step),
      Array.from({ length: 60 }, (_, i) => i + 1),
      'rank 0 reported every step once, in order',
    );
    t.ok(
      m0.every((m) => m.rank === 0),
      'only rank 0 reports metrics',
    );
    const first = m0[0].values.loss,
      last = m0[m0.length - 1].values.loss;
    t.ok(Math.abs(first - Math.LN2) < 1e-3, `first loss is ln 2 from zero weights (${first})`);
    t.ok(last < 0.35, `loss fell to ${last}`);
    await events.next((e) => e.type === 'log' && e.generation === 0 && /^done /.test(e.msg) && e.rank === 1);
    await events.next((e) => e.type === 'log' && e.generation === 0 && /^done /.test(e.msg) && e.rank === 0);
    const digests = doneLogs(0).map((l) => /params_sha256=([0-9a-f]+)/.exec(l.msg)![1]);
    t.equal(digests.length, 2);
    t.equal(digests[0], digests[1], 'both ranks end with bit-identical weights');
    t.match(
      events.items.filter((e) => e.type === 'checkpoint').map((e) => (e as { step: number }).step),
      [20, 40, 60],
    );

    // Generation 1 (say the job was resumed with a longer schedule): continues at 61.
    const g1 = await runGeneration(env, ex, 'jlr', 1, 2, 90);
    t.same(
      g1.map((e) => e.outcome.kind),
      ['succeeded', 'succeeded'],
    );
    t.same(
      metrics(1).map((m) => m.step),
      Array.from({ length: 30 }, (_, i) => i + 61),
      'resumed after the checkpoint at 60: no step twice',
    );
    t.ok(metrics(1)[0].values.loss <= last + 1e-3, 'the resumed run starts from the trained weights');

    // Corrupt the newest checkpoint (90): generation 2 must resume from 80.
    const store = await CheckpointStore.open(env.nc, env.prefix, 'jlr');
    t.same(
      (await store.list()).map((c) => c.step),
      [90, 80, 60],
    );
    const os = await new Objm(env.nc).open(env.s.jobStore('jlr', 'ckpt'));
    const info = await os.info(checkpointName('jlr', 90));
    await os.putBlob(
      { name: checkpointName('jlr', 90), metadata: { ...info!.metadata } },
      new TextEncoder().encode('{"format":"flotilla-logreg/1","step":90,"params":[0,0,0,0,0,0,0,0,0],"samplerSeed":1}'),
    );
    const g2 = await runGeneration(env, ex, 'jlr', 2, 2, 100);
    t.same(
      g2.map((e) => e.outcome.kind),
      ['succeeded', 'succeeded'],
    );
    t.same(
      metrics(2).map((m) => m.step),
      Array.from({ length: 20 }, (_, i) => i + 81),
      'corrupt 90 skipped: resumed after 80',
    );
    t.ok(
      events.items.some((e) => e.type === 'log' && e.level === 'warn' && /jlr\/000000000090 skipped/.test(e.msg)),
      'the skip was reported as a job event',
    );
    ex.close();
    events.close();
  },
);
