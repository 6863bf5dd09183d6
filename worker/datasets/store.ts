/**
 * Datasets in the cluster's Object Store: `pushDataset` uploads a packed folder under a name
 * (`flotilla dataset push`); `fetchDataset` gives a worker the dataset's yaml in a local cache
 * keyed by the tar's SHA-256, downloading and unpacking it once per digest (the bytes are
 * checked against the digest recorded at push before anything is unpacked).
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { NatsConnection } from '@nats-io/transport-node';
import { jsClient } from '../../shared/js-domain.ts';
import * as tar from 'tar';
import { DATASET_META, DATASET_NAME } from '../../shared/dataset-ref.ts';
import { FlotillaError } from '../../shared/errors.ts';
import { jsManager, openObjectStore } from '../../shared/js-assets.ts';
import { subjects } from '../../shared/subjects.ts';
import { localizeYaml, packDataset, type PackedDataset } from './pack.ts';

/** Where workers keep fetched datasets: FLOTILLA_DATASET_CACHE, else ~/.cache/flotilla/datasets. */
export function defaultDatasetCache(): string {
  return process.env.FLOTILLA_DATASET_CACHE ?? join(homedir(), '.cache', 'flotilla', 'datasets');
}

function checkName(name: string): void {
  if (!DATASET_NAME.test(name))
    throw new FlotillaError('FLO_VALIDATION', `dataset name '${name}': use 1-64 of [A-Za-z0-9_.-], starting with a letter or digit`);
}

async function store(nc: NatsConnection) {
  return { js: jsClient(nc), jsm: await jsManager(nc) };
}

export interface PushedDataset extends Omit<PackedDataset, 'file'> {
  name: string;
}

/** Packs `dir` and stores it as dataset `name` (replacing an earlier one of that name). */
export async function pushDataset(nc: NatsConnection, prefix: string, dir: string, name: string): Promise<PushedDataset> {
  checkName(name);
  const tmp = join(tmpdir(), `flotilla-push-${randomBytes(6).toString('hex')}.tar`);
  try {
    const p = await packDataset(dir, tmp);
    const { js, jsm } = await store(nc);
    const os = await openObjectStore(js, jsm, subjects(prefix).datasetStore);
    const body = Readable.toWeb(createReadStream(tmp)) as ReadableStream<Uint8Array>;
    await os.put(
      { name, metadata: { [DATASET_META.sha256]: p.sha256, [DATASET_META.yaml]: p.yaml, [DATASET_META.files]: String(p.files) } },
      body,
    );
    return { name, sha256: p.sha256, bytes: p.bytes, files: p.files, yaml: p.yaml };
  } finally {
    rmSync(tmp, { force: true });
  }
}

export interface FetchedDataset {
  /** the dataset yaml in the cache */
  yamlPath: string;
  /** the unpacked dataset folder in the cache */
  dir: string;
  sha256: string;
  /** true when the cache already held this digest (nothing was downloaded) */
  cached: boolean;
}

/** The local yaml of dataset `name`, fetched into `cacheDir`/<sha256> unless already there. */
export async function fetchDataset(
  nc: NatsConnection,
  prefix: string,
  name: string,
  cacheDir = defaultDatasetCache(),
): Promise<FetchedDataset> {
  checkName(name);
  const { js, jsm } = await store(nc);
  const os = await openObjectStore(js, jsm, subjects(prefix).datasetStore);
  const info = await os.info(name);
  if (!info || info.deleted)
    throw new FlotillaError(
      'FLO_VALIDATION',
      `no dataset '${name}' in the cluster (push it with: flotilla dataset push DIR --name ${name})`,
    );
  const sha256 = info.metadata?.[DATASET_META.sha256],
    yaml = info.metadata?.[DATASET_META.yaml];
  if (!sha256 || !/^[0-9a-f]{64}$/.test(sha256) || !yaml)
    throw new FlotillaError(
      'FLO_VALIDATION',
      `dataset '${name}' has no digest or yaml in its metadata (not pushed by flotilla dataset push)`,
    );
  const dest = join(cacheDir, sha256);
  if (existsSync(join(dest, yaml))) return { yamlPath: join(dest, yaml), dir: dest, sha256, cached: true };
  mkdirSync(cacheDir, { recursive: true });
  const part = join(cacheDir, `.${sha256}.${randomBytes(6).toString('hex')}`);
  const tarFile = `${part}.tar`;
  try {
    const got = await os.get(name);
    if (!got) throw new FlotillaError('FLO_UNAVAILABLE', `dataset '${name}' vanished while it was fetched`);
    const hash = createHash('sha256');
    const file = createWriteStream(tarFile);
    await pipeline(
      Readable.fromWeb(got.data as never),
      new Writable({
        write(chunk: Buffer, _enc, done) {
          hash.update(chunk);
          file.write(chunk, done);
        },
        final(done) {
          file.end(done);
        },
      }),
    );
    await got.error.then((e) => {
      if (e) throw e;
    });
    const digest = hash.digest('hex');
    if (digest !== sha256)
      throw new FlotillaError('FLO_VALIDATION', `dataset '${name}': the bytes fetched have SHA-256 ${digest}, the push recorded ${sha256}`);
    mkdirSync(part, { recursive: true });
    await tar.x({ file: tarFile, cwd: part, strict: true });
    localizeYaml(join(part, yaml));
    // another actor on this node may have finished first: its copy is the same bytes
    try {
      renameSync(part, dest);
    } catch (e) {
      if (!existsSync(join(dest, yaml))) throw e;
    }
    return { yamlPath: join(dest, yaml), dir: dest, sha256, cached: false };
  } finally {
    rmSync(tarFile, { force: true });
    rmSync(part, { recursive: true, force: true });
  }
}

/** The pushed datasets, by name. */
export async function listDatasets(
  nc: NatsConnection,
  prefix: string,
): Promise<{ name: string; bytes: number; files: number; sha256: string }[]> {
  const { js, jsm } = await store(nc);
  const os = await openObjectStore(js, jsm, subjects(prefix).datasetStore);
  return (await os.list())
    .filter((i) => !i.deleted)
    .map((i) => ({
      name: i.name,
      bytes: i.size,
      files: Number(i.metadata?.[DATASET_META.files] ?? 0),
      sha256: i.metadata?.[DATASET_META.sha256] ?? '',
    }))
    .sort((a, b) => (a.name < b.name ? -1 : 1));
}
