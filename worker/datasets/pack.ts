/**
 * A dataset folder as one deterministic tar (sorted entries, fixed mtime, no owners), written to
 * a file while its SHA-256 is computed: the same folder gives the same bytes and digest.
 */
import { createHash } from 'node:crypto';
import { createWriteStream, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import { parse, stringify } from 'yaml';
import * as tar from 'tar';

export class DatasetPackError extends Error {
  override name = 'DatasetPackError';
}

function listFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) out.push(relative(dir, join(e.parentPath, e.name)).split(sep).join('/'));
  }
  return out.sort();
}

/** The dataset yaml of `dir`: data.yaml, else the one yaml at its top. */
export function datasetYaml(dir: string): string {
  if (existsSync(join(dir, 'data.yaml'))) return 'data.yaml';
  const yamls = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f));
  if (yamls.length !== 1)
    throw new DatasetPackError(
      `${dir}: expected data.yaml or exactly one .yaml at the top (found ${yamls.length ? yamls.join(', ') : 'none'})`,
    );
  return yamls[0];
}

export interface PackedDataset {
  file: string;
  sha256: string;
  bytes: number;
  files: number;
  /** the yaml's path inside the tar */
  yaml: string;
}

/** After unpacking: a yaml whose `path` was the pusher's absolute folder now means its own folder. */
export function localizeYaml(file: string): void {
  const doc = parse(readFileSync(file, 'utf8')) as Record<string, unknown> | null;
  if (doc && typeof doc.path === 'string' && isAbsolute(doc.path)) writeFileSync(file, stringify({ ...doc, path: '.' }));
}

/** Packs `dir` into the tar `file`; refuses a yaml whose `path` points outside the folder. */
export async function packDataset(dir: string, file: string): Promise<PackedDataset> {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new DatasetPackError(`${dir} is not a folder`);
  const yaml = datasetYaml(dir);
  const doc = parse(readFileSync(join(dir, yaml), 'utf8')) as { path?: unknown } | null;
  const p = typeof doc?.path === 'string' ? doc.path : '.';
  // an absolute path to the folder itself is fine (the synthetic set writes one): fetchDataset makes it '.'
  const self = isAbsolute(p) && resolve(p) === resolve(dir);
  if (!self && (isAbsolute(p) || p.split('/').includes('..'))) {
    throw new DatasetPackError(
      `${join(dir, yaml)}: path '${p}' leaves the dataset folder; use a path inside it (e.g. path: .) so the dataset works where it is unpacked`,
    );
  }
  const files = listFiles(dir);
  const hash = createHash('sha256');
  let bytes = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      bytes += chunk.length;
      done(null, chunk);
    },
  });
  await pipeline(tar.c({ cwd: dir, portable: true, mtime: new Date(0), noDirRecurse: true }, files), tap, createWriteStream(file));
  return { file, sha256: hash.digest('hex'), bytes, files: files.length, yaml };
}
