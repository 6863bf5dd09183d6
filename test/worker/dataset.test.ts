/**
 * Datasets through the cluster: `flotilla dataset push` stores a folder as one digest-checked
 * tar (the same folder, the same digest); a worker fetches it once per digest into its cache;
 * bytes that do not match the pushed digest are refused; a 1-rank YOLOv5 job trains on
 * `data: dataset://NAME`; an unknown name is a fatal job error.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { jetstream } from '@nats-io/jetstream';
import { Objm } from '@nats-io/obj';
import { DATASET_META } from '../../shared/dataset-ref.ts';
import { fetchDataset, pushDataset } from '../../worker/datasets/store.ts';
import { loadDataset } from '../../worker/engine/data/index.ts';
import { synthesize } from '../../worker/engine/train/index.ts';
import { actorSpec, control, exits, jobSpec, natsEnv, startTestAgent } from './helpers.ts';

const TINY = fileURLToPath(new URL('./fixtures/tiny-yolov5.yaml', import.meta.url));
const PT = fileURLToPath(new URL('../fixtures/pt/yolov5n-w0125.pt', import.meta.url));
const CLI = fileURLToPath(new URL('../../bin/flotilla.mjs', import.meta.url));
const LOADED_LEASE_MS = 120_000; // the actors' fencing lease, long: this tests data, not fencing

t.test('dataset push, fetch into a digest cache, refusal of bad bytes, a job on dataset://', async (t) => {
  const env = await natsEnv(t, 'ds');
  const dir = mkdtempSync(join(tmpdir(), 'ds-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  await synthesize({ train: 4, val: 2, img: 64, seed: 2 }, join(dir, 'shapes'));
  // the head's identity may write the store (FLOTILLA_NATS_CREDS takes a creds file or its text)
  const cliEnv = { ...process.env, ...(env.srv.auth ? { FLOTILLA_NATS_CREDS: env.srv.auth.headCreds } : {}) };

  // the CLI, as a user runs it
  const cli = spawnSync(
    process.execPath,
    [CLI, 'dataset', 'push', join(dir, 'shapes'), '--name', 'shapes', '--nats', env.srv.url, '--prefix', env.prefix],
    { encoding: 'utf8', env: cliEnv },
  );
  t.equal(cli.status, 0, cli.stderr);
  const m = /pushed dataset:\/\/shapes: (\d+) files, (\d+) bytes, sha256 ([0-9a-f]{64}) \(yaml data\.yaml\)/.exec(cli.stdout);
  t.ok(m, cli.stdout);
  t.equal(Number(m?.[1]), 4 + 2 + 4 + 2 + 1, 'images, labels and the yaml');
  const again = await pushDataset(env.nc, env.prefix, join(dir, 'shapes'), 'shapes');
  t.equal(again.sha256, m?.[3], 'the same folder packs to the same digest');
  const list = spawnSync(process.execPath, [CLI, 'dataset', 'list', '--nats', env.srv.url, '--prefix', env.prefix], {
    encoding: 'utf8',
    env: cliEnv,
  });
  t.match(list.stdout, new RegExp(`dataset://shapes .* sha256 ${again.sha256}`));

  const cache = join(dir, 'cache');
  const first = await fetchDataset(env.nc, env.prefix, 'shapes', cache);
  t.equal(first.cached, false, 'first fetch downloads');
  t.equal(first.yamlPath, join(cache, again.sha256, 'data.yaml'), 'cached under the digest');
  const ds = await loadDataset(first.yamlPath, 'train');
  t.equal(ds.items.length, 4, 'the unpacked dataset loads');
  t.equal((await fetchDataset(env.nc, env.prefix, 'shapes', cache)).cached, true, 'second fetch: cache hit');

  // bytes that do not match the recorded digest are refused, and nothing is cached
  const os = await new Objm(jetstream(env.nc)).create(env.s.datasetStore);
  await os.putBlob(
    {
      name: 'forged',
      metadata: { [DATASET_META.sha256]: again.sha256.replace(/^./, (c) => (c === '0' ? '1' : '0')), [DATASET_META.yaml]: 'data.yaml' },
    },
    new Uint8Array(1024),
  );
  await t.rejects(fetchDataset(env.nc, env.prefix, 'forged', cache), /the bytes fetched have SHA-256 [0-9a-f]{64}, the push recorded/);
  await t.rejects(fetchDataset(env.nc, env.prefix, 'nope', cache), /no dataset 'nope'/);

  writeFileSync(join(dir, 'shapes', 'data.yaml'), 'path: /elsewhere\ntrain: images/train\nval: images/val\nnames: [a, b, c]\n');
  await t.rejects(pushDataset(env.nc, env.prefix, join(dir, 'shapes'), 'bad'), /path '\/elsewhere' leaves the dataset folder/);

  // a job names it; the actor fetches into the node's cache (FLOTILLA_DATASET_CACHE of the agent's actors)
  const ex = exits(env.nc, env.s);
  await startTestAgent(t, env, { nodeId: 'node-ds', slots: 1, actorEnv: { FLOTILLA_DATASET_CACHE: join(dir, 'node-cache') } });
  const job = jobSpec({
    workers: 1,
    trainer: { kind: 'yolov5', cfg: TINY, data: 'dataset://shapes', img: 64, epochs: 1, batch: 2, hyp: { warmup_epochs: 0 } },
  });
  await control(env.nc, env.s.nodeControl('node-ds'), {
    op: 'spawn',
    actor: { ...actorSpec({ jobId: 'jds', actorId: 'ds-r0', nodeId: 'node-ds', job }), leaseMs: LOADED_LEASE_MS },
  });
  const e = await ex.next((x) => x.actorId === 'ds-r0');
  t.equal(e.outcome.kind, 'succeeded', e.outcome.message);
  t.ok(existsSync(join(dir, 'node-cache', again.sha256, 'data.yaml')), "the node's cache holds the dataset by digest");
  const bad = jobSpec({ workers: 1, trainer: { kind: 'yolov5', cfg: TINY, data: 'dataset://missing', img: 64, epochs: 1, batch: 2 } });
  await control(env.nc, env.s.nodeControl('node-ds'), {
    op: 'spawn',
    actor: { ...actorSpec({ jobId: 'jds2', actorId: 'ds2-r0', nodeId: 'node-ds', job: bad }), leaseMs: LOADED_LEASE_MS },
  });
  const e2 = await ex.next((x) => x.actorId === 'ds2-r0');
  t.match(e2.outcome, { kind: 'fatal', message: /no dataset 'missing'/ });

  // weights: dataset://NAME/FILE — a PyTorch .pt inside a pushed folder, transferred on a fresh start
  cpSync(join(dir, 'shapes'), join(dir, 'with-weights'), { recursive: true });
  writeFileSync(
    join(dir, 'with-weights', 'data.yaml'),
    'path: .\ntrain: images/train\nval: images/val\nnames: [circle, square, triangle]\n',
  );
  mkdirSync(join(dir, 'with-weights', 'weights'));
  copyFileSync(PT, join(dir, 'with-weights', 'weights', 'w.pt'));
  await pushDataset(env.nc, env.prefix, join(dir, 'with-weights'), 'withw');
  const wjob = jobSpec({
    workers: 1,
    trainer: {
      kind: 'yolov5',
      cfg: TINY,
      data: 'dataset://shapes',
      weights: 'dataset://withw/weights/w.pt',
      img: 64,
      epochs: 1,
      batch: 2,
      hyp: { warmup_epochs: 0 },
    },
  });
  await control(env.nc, env.s.nodeControl('node-ds'), {
    op: 'spawn',
    actor: { ...actorSpec({ jobId: 'jw', actorId: 'w-r0', nodeId: 'node-ds', job: wjob }), leaseMs: LOADED_LEASE_MS },
  });
  const e3 = await ex.next((x) => x.actorId === 'w-r0');
  t.equal(e3.outcome.kind, 'succeeded', `a job with weights from the object store: ${e3.outcome.message ?? ''}`);
  const wbad = jobSpec({
    workers: 1,
    trainer: {
      kind: 'yolov5',
      cfg: TINY,
      data: 'dataset://shapes',
      weights: 'dataset://withw/weights/none.pt',
      img: 64,
      epochs: 1,
      batch: 2,
    },
  });
  await control(env.nc, env.s.nodeControl('node-ds'), {
    op: 'spawn',
    actor: { ...actorSpec({ jobId: 'jw2', actorId: 'w2-r0', nodeId: 'node-ds', job: wbad }), leaseMs: LOADED_LEASE_MS },
  });
  const e4 = await ex.next((x) => x.actorId === 'w2-r0');
  t.match(e4.outcome, { kind: 'fatal', message: /dataset 'withw' has no file 'weights\/none.pt'/ });
  ex.close();
});
