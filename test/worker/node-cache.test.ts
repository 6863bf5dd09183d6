/**
 * The node cache: an actor restarted on the same node reads the job's newest checkpoint from
 * the node's disk instead of the Object Store (the restart's log says so and it resumes after
 * that checkpoint); a cached copy that no longer matches what the store holds is dropped and
 * the store's bytes are read. The synthetic YOLOv5 dataset is drawn once per node and settings.
 */
import t from 'tap';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Objm } from '@nats-io/obj';
import { decode } from '../../shared/codec.ts';
import { JobEvent } from '../../shared/schemas/index.ts';
import { CheckpointCache } from '../../worker/actor/node-cache.ts';
import { cachedSynthetic } from '../../worker/trainers/synthetic-cache.ts';
import { Collector, actorSpec, control, exits, jobSpec, natsEnv, pretendHead, spawnMsg, startTestAgent, waitActor } from './helpers.ts';

type Log = Extract<JobEvent, { type: 'log' }>;
type Metric = Extract<JobEvent, { type: 'metric' }>;

t.test('a restart on the same node loads the checkpoint from the node cache; a stale copy is dropped for the store', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'flotilla-node-cache-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const env = await natsEnv(t, 'nc');
  pretendHead(env.nc, env.s);
  const ex = exits(env.nc, env.s);
  const events = new Collector(env.nc, env.s.jobEvents('jc'), (m) => decode(JobEvent, m.data));
  await startTestAgent(t, env, { nodeId: 'node-c', slots: 1, actorEnv: { FLOTILLA_NODE_CACHE: dir } });
  const job = jobSpec({ checkpoint_every: 5, recovery: 'checkpoint', trainer: { kind: 'logreg', steps: 100_000, features: 4, batch: 8, step_delay_ms: 30 } });
  const run = async (generation: number) => {
    const actorId = `jc-g${generation}`;
    const r = await control(env.nc, env.s.nodeControl('node-c'), await spawnMsg(env, actorSpec({ jobId: 'jc', actorId, generation, nodeId: 'node-c', job })));
    if (!r.ok) throw new Error(`spawn refused: ${r.error.message}`);
    await events.next((e) => e.type === 'checkpoint' && e.generation === generation);
    const st = await waitActor(env.nc, env.s, actorId, (s) => s.step !== null);
    process.kill(st.pid, 'SIGKILL');
    await ex.next((e) => e.actorId === actorId);
  };
  const loaded = (g: number) => events.next((e): e is Log => e.type === 'log' && e.generation === g && /^checkpoint \S+ loaded from /.test(e.msg)) as Promise<Log>;

  await run(0);
  const cache = new CheckpointCache('jc', dir);
  t.ok(cache.names().length > 0, `the checkpoints rank 0 saved are on the node's disk (${cache.names().join(', ')})`);

  const r1 = await control(env.nc, env.s.nodeControl('node-c'), await spawnMsg(env, actorSpec({ jobId: 'jc', actorId: 'jc-g1', generation: 1, nodeId: 'node-c', job })));
  t.ok(r1.ok, 'generation 1 placed on the same node');
  const hit = await loaded(1);
  t.match(hit.msg, /loaded from the node cache$/, 'generation 1 read its checkpoint from the node cache');
  const step = Number(/jc\/0*(\d+) loaded/.exec(hit.msg)?.[1]);
  const first = await events.next((e): e is Metric => e.type === 'metric' && e.generation === 1) as Metric;
  t.equal(first.step, step + 1, `and resumed right after it (checkpoint ${step})`);
  const st1 = await waitActor(env.nc, env.s, 'jc-g1', (s) => s.step !== null && s.step >= step + 6);
  process.kill(st1.pid, 'SIGKILL');
  await ex.next((e) => e.actorId === 'jc-g1');
  // every checkpoint the store holds now has a copy on this disk that differs from it (written
  // after the kill: a save cut short between the store and the cache leaves no copy at all)
  const os = await new Objm(env.nc).open(env.s.jobStore('jc', 'ckpt'));
  for (const info of await os.list()) {
    if (!info.deleted && info.name.startsWith('jc/')) cache.put(info.name, new TextEncoder().encode('not a checkpoint'));
  }
  t.ok(readdirSync(cache.dir).length > 0, 'stale copies on the disk');

  const r2 = await control(env.nc, env.s.nodeControl('node-c'), await spawnMsg(env, actorSpec({ jobId: 'jc', actorId: 'jc-g2', generation: 2, nodeId: 'node-c', job })));
  t.ok(r2.ok, 'generation 2 placed');
  const miss = await loaded(2);
  t.match(miss.msg, /loaded from the object store \(node cache: cached copy has sha256 [0-9a-f]{64}, the store holds [0-9a-f]{64}: dropped\)/, 'a copy that does not match the store is not used');
  const again = await events.next((e): e is Metric => e.type === 'metric' && e.generation === 2) as Metric;
  t.ok(again.step > step, `generation 2 resumed at ${again.step} from the store's checkpoint`);
  const st2 = await waitActor(env.nc, env.s, 'jc-g2', (s) => s.step !== null);
  process.kill(st2.pid, 'SIGKILL');
  await ex.next((e) => e.actorId === 'jc-g2');
  ex.close(); events.close();
});

t.test('the synthetic dataset is drawn once per node and settings', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'flotilla-synth-cache-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const spec = { train: 4, val: 2, seed: 3, img: 64 };
  const a = await cachedSynthetic(spec, root);
  t.equal(a.cached, false, 'first: drawn');
  const b = await cachedSynthetic(spec, root);
  t.same(b, { yamlPath: a.yamlPath, cached: true }, 'second: the same folder, not drawn again');
  const yaml = readFileSync(a.yamlPath, 'utf8');
  const path = /^path: (.+)$/m.exec(yaml)?.[1];
  t.equal(path, join(a.yamlPath, '..'), 'the yaml names its final folder');
  t.equal(readdirSync(join(path!, 'images', 'train')).length, 4, 'the images are there');
  const c = await cachedSynthetic({ ...spec, seed: 4 }, root);
  t.not(c.yamlPath, a.yamlPath, 'other settings get their own folder');
  t.notOk(readdirSync(join(root, 'synthetic')).some((f) => f.startsWith('.tmp-')), 'no temporary folder left');
  t.ok(existsSync(a.yamlPath));
});
