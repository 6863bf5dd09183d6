/**
 * The node cache: an actor restarted on the same node reads the job's newest checkpoint from
 * the node's disk instead of the Object Store (the restart's log says so and it resumes after
 * that checkpoint); a cached copy that no longer matches what the store holds is dropped and
 * the store's bytes are read. The synthetic YOLOv5 dataset is drawn once per node and settings.
 * The cache is size-bounded (least recently used first, never a set an actor still reads), and a
 * cancelled job's folder goes with its actor.
 */
import t from 'tap';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { jetstream } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Objm } from '@nats-io/obj';
import { decode } from '../../shared/codec.ts';
import { JobEvent } from '../../shared/schemas/index.ts';
import { CheckpointCache } from '../../worker/actor/node-cache.ts';
import {
  DEFAULT_NODE_CACHE_MB,
  SYNTHETIC_DONE,
  cacheEntries,
  enforceCacheBound,
  nodeCacheLimitBytes,
  useSynthetic,
} from '../../worker/actor/cache-bound.ts';
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
  const job = jobSpec({
    checkpoint_every: 5,
    recovery: 'checkpoint',
    trainer: { kind: 'logreg', steps: 100_000, features: 4, batch: 8, step_delay_ms: 30 },
  });
  const run = async (generation: number) => {
    const actorId = `jc-g${generation}`;
    const r = await control(
      env.nc,
      env.s.nodeControl('node-c'),
      await spawnMsg(env, actorSpec({ jobId: 'jc', actorId, generation, nodeId: 'node-c', job })),
    );
    if (!r.ok) throw new Error(`spawn refused: ${r.error.message}`);
    await events.next((e) => e.type === 'checkpoint' && e.generation === generation);
    const st = await waitActor(env.nc, env.s, actorId, (s) => s.step !== null);
    process.kill(st.pid, 'SIGKILL');
    await ex.next((e) => e.actorId === actorId);
  };
  const loaded = (g: number) =>
    events.next((e): e is Log => e.type === 'log' && e.generation === g && /^checkpoint \S+ loaded from /.test(e.msg)) as Promise<Log>;

  await run(0);
  const cache = new CheckpointCache('jc', dir);
  t.ok(cache.names().length > 0, `the checkpoints rank 0 saved are on the node's disk (${cache.names().join(', ')})`);

  const r1 = await control(
    env.nc,
    env.s.nodeControl('node-c'),
    await spawnMsg(env, actorSpec({ jobId: 'jc', actorId: 'jc-g1', generation: 1, nodeId: 'node-c', job })),
  );
  t.ok(r1.ok, 'generation 1 placed on the same node');
  const hit = await loaded(1);
  t.match(hit.msg, /loaded from the node cache$/, 'generation 1 read its checkpoint from the node cache');
  const step = Number(/jc\/0*(\d+) loaded/.exec(hit.msg)?.[1]);
  const first = (await events.next((e): e is Metric => e.type === 'metric' && e.generation === 1)) as Metric;
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

  const r2 = await control(
    env.nc,
    env.s.nodeControl('node-c'),
    await spawnMsg(env, actorSpec({ jobId: 'jc', actorId: 'jc-g2', generation: 2, nodeId: 'node-c', job })),
  );
  t.ok(r2.ok, 'generation 2 placed');
  const miss = await loaded(2);
  t.match(
    miss.msg,
    /loaded from the object store \(node cache: cached copy has sha256 [0-9a-f]{64}, the store holds [0-9a-f]{64}: dropped\)/,
    'a copy that does not match the store is not used',
  );
  const again = (await events.next((e): e is Metric => e.type === 'metric' && e.generation === 2)) as Metric;
  t.ok(again.step > step, `generation 2 resumed at ${again.step} from the store's checkpoint`);
  const st2 = await waitActor(env.nc, env.s, 'jc-g2', (s) => s.step !== null);
  process.kill(st2.pid, 'SIGKILL');
  await ex.next((e) => e.actorId === 'jc-g2');
  ex.close();
  events.close();
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
  t.notOk(
    readdirSync(join(root, 'synthetic')).some((f) => f.startsWith('.tmp-')),
    'no temporary folder left',
  );
  t.ok(existsSync(a.yamlPath));
});

t.test('FLOTILLA_NODE_CACHE_MB: a documented default, a clear error on a bad value', async (t) => {
  t.equal(nodeCacheLimitBytes({}), DEFAULT_NODE_CACHE_MB * 1024 * 1024, `default ${DEFAULT_NODE_CACHE_MB} MiB`);
  t.equal(nodeCacheLimitBytes({ FLOTILLA_NODE_CACHE_MB: '0.5' }), 512 * 1024);
  t.equal(nodeCacheLimitBytes({ FLOTILLA_NODE_CACHE_MB: '0' }), 0, '0: keep nothing beyond what is in use');
  for (const bad of ['-1', 'lots', '1e999']) {
    t.throws(
      () => nodeCacheLimitBytes({ FLOTILLA_NODE_CACHE_MB: bad }),
      { code: 'FLO_VALIDATION', message: /FLOTILLA_NODE_CACHE_MB must be a size in MiB/ },
      `'${bad}' refused`,
    );
  }
});

t.test('the size bound evicts the least recently used entries, never what was just written or a set in use', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'flotilla-cache-bound-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const KB = 1024;
  const at = (path: string, minutesAgo: number) => {
    const d = new Date(Date.now() - minutesAgo * 60_000);
    utimesSync(path, d, d);
  };
  const ckpt = (job: string, name: string, minutesAgo: number) => {
    const c = new CheckpointCache(job, root, Number.MAX_SAFE_INTEGER);
    c.put(`${job}/${name}`, new Uint8Array(10 * KB));
    at(join(c.dir, `${job}__${name}`), minutesAgo);
    return join(c.dir, `${job}__${name}`);
  };
  const synth = (key: string, minutesAgo: number, user?: number) => {
    const dir = join(root, 'synthetic', key);
    mkdirSync(join(dir, 'images'), { recursive: true });
    writeFileSync(join(dir, 'images', 'a.jpg'), new Uint8Array(20 * KB));
    writeFileSync(join(dir, SYNTHETIC_DONE), '{}');
    if (user !== undefined) {
      mkdirSync(join(dir, '.users'), { recursive: true });
      writeFileSync(join(dir, '.users', String(user)), '');
    }
    at(join(dir, SYNTHETIC_DONE), minutesAgo);
    return dir;
  };
  const oldJob = ckpt('jold', '000000000010', 60);
  const midJob = ckpt('jmid', '000000000020', 30);
  const newJob = ckpt('jnew', '000000000030', 1);
  const busy = synth('busy', 90, process.pid); // the oldest, but read by a live process
  const gone = synth('gone', 50, 2 ** 22 + 12_345); // its reader (a pid that cannot exist) is gone
  t.equal(
    cacheEntries(root).reduce((a, e) => a + e.bytes, 0),
    3 * 10 * KB + 2 * (20 * KB + 2),
    '5 entries',
  );
  const r = enforceCacheBound(root, 45 * KB, [newJob]);
  t.same(r.evicted, [oldJob, gone], 'by last use, oldest first (60, then 50 min ago), skipping the set in use (90 min)');
  t.ok(existsSync(busy), 'the set in use stays, oldest as it is');
  t.ok(existsSync(midJob) && existsSync(newJob), 'the newer checkpoints stay');
  t.ok(r.bytes <= 45 * KB, `the cache fits (${r.bytes} bytes)`);
  // a write through the cache enforces the bound itself, keeping what it wrote
  const small = new CheckpointCache('jput', root, 25 * KB);
  t.ok(small.put('jput/000000000040', new Uint8Array(10 * KB)));
  t.ok(existsSync(join(small.dir, 'jput__000000000040')), 'the new checkpoint is kept');
  t.notOk(existsSync(midJob), 'an older checkpoint made room');
  t.ok(existsSync(busy), 'the set in use still stays (even over the bound)');
  // a hit refreshes the entry's use
  at(join(small.dir, 'jput__000000000040'), 120);
  const { createHash } = await import('node:crypto');
  const sha = createHash('sha256')
    .update(new Uint8Array(10 * KB))
    .digest('hex');
  t.ok(small.get('jput/000000000040', sha).hit);
  t.ok(cacheEntries(root).find((e) => e.path.endsWith('jput__000000000040'))!.usedAt > Date.now() - 60_000, 'a hit counts as a use');
  // a reader's mark refreshes the set's use as well
  at(join(busy, SYNTHETIC_DONE), 300);
  useSynthetic(busy);
  t.ok(cacheEntries(root).find((e) => e.path === busy)!.usedAt > Date.now() - 60_000, 'a read of a set counts as a use');
});

t.test("a cancelled job's node-cached checkpoints go with its actor", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'flotilla-node-cache-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const env = await natsEnv(t, 'nk');
  pretendHead(env.nc, env.s);
  const ex = exits(env.nc, env.s);
  const events = new Collector(env.nc, env.s.jobEvents('jk'), (m) => decode(JobEvent, m.data));
  await startTestAgent(t, env, { nodeId: 'node-k', slots: 1, actorEnv: { FLOTILLA_NODE_CACHE: dir } });
  const kv = await new Kvm(jetstream(env.nc)).open(env.s.jobsBucket);
  const record = (state: string) => ({
    id: 'jk',
    state,
    generation: 0,
    placement: [{ rank: 0, nodeId: 'node-k', actorId: 'jk-g0' }],
    checkpoint_step: null,
  });
  await kv.put('jk', JSON.stringify(record('running')));
  const job = jobSpec({ checkpoint_every: 5, trainer: { kind: 'logreg', steps: 100_000, features: 4, batch: 8, step_delay_ms: 30 } });
  const r = await control(
    env.nc,
    env.s.nodeControl('node-k'),
    await spawnMsg(env, actorSpec({ jobId: 'jk', actorId: 'jk-g0', nodeId: 'node-k', job })),
  );
  t.ok(r.ok, 'placed');
  await events.next((e) => e.type === 'checkpoint');
  const cache = new CheckpointCache('jk', dir);
  t.ok(cache.names().length > 0, 'checkpoints cached while it runs');
  await kv.put('jk', JSON.stringify(record('cancelled')));
  const exit = await ex.next((e) => e.actorId === 'jk-g0');
  t.equal(exit.outcome.kind, 'cancelled', `the actor stopped (${exit.outcome.message})`);
  t.notOk(existsSync(cache.dir), "and removed the cancelled job's folder");
  ex.close();
  events.close();
});
