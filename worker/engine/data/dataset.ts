/**
 * YOLO-format datasets read as-is: a dataset yaml (`path`, `train`, `val`, `names`, optional `nc`),
 * images under `images/` and labels under the parallel `labels/` folder, one `.txt` per image.
 */
import { readFile, readdir, stat } from 'node:fs/promises';
import { dirname, extname, isAbsolute, join, resolve, sep } from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';
import { parseLabels } from './labels.ts';

/** File extensions read as images (the ones sharp decodes). */
export const IMAGE_EXTENSIONS: readonly string[] = ['.jpg', '.jpeg', '.png', '.webp', '.tif', '.tiff', '.gif', '.avif'];

/** One image and its labels: `labels` holds n rows of [cls, xc, yc, w, h], normalised. */
export interface DatasetItem {
  imagePath: string;
  labelPath: string;
  labels: Float32Array;
}

/** A split of a YOLO dataset. */
export interface YoloDataset {
  yamlPath: string;
  split: 'train' | 'val';
  /** the resolved dataset root (`path` in the yaml, relative to the yaml's folder; the yaml's folder when absent) */
  root: string;
  items: DatasetItem[];
  names: string[];
  nc: number;
  /** images without objects (missing or empty label file) */
  backgrounds: number;
  /** duplicate label rows dropped */
  duplicates: number;
}

const Names = z.union([z.array(z.string()), z.record(z.string(), z.string())]);
const Source = z.union([z.string(), z.array(z.string()).min(1)]);
const DatasetYaml = z.object({
  path: z.string().optional(),
  train: Source,
  val: Source,
  test: Source.nullish(),
  nc: z.number().int().positive().optional(),
  names: Names,
}).passthrough();

/** The label path of an image: the last `/images/` becomes `/labels/`, the extension `.txt`. */
export function labelPathFor(imagePath: string): string {
  const a = `${sep}images${sep}`, b = `${sep}labels${sep}`;
  const i = imagePath.lastIndexOf(a);
  const swapped = i >= 0 ? imagePath.slice(0, i) + b + imagePath.slice(i + a.length) : imagePath;
  const ext = extname(swapped);
  return (ext ? swapped.slice(0, -ext.length) : swapped) + '.txt';
}

function namesList(names: z.infer<typeof Names>, file: string): string[] {
  if (Array.isArray(names)) return names;
  const keys = Object.keys(names).map(Number).sort((x, y) => x - y);
  keys.forEach((k, i) => { if (k !== i) throw new Error(`${file}: names must be numbered 0..n-1 (found key ${k})`); });
  return keys.map((k) => names[String(k)]);
}

async function isDir(p: string): Promise<boolean> {
  try { return (await stat(p)).isDirectory(); } catch { return false; }
}

async function listImagesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile() && IMAGE_EXTENSIONS.includes(extname(e.name).toLowerCase())) out.push(join(e.parentPath ?? dir, e.name));
  }
  return out;
}

/** Resolves one `train`/`val` entry: a folder of images, a `.txt` list of images, or one image. */
async function resolveSource(entry: string, root: string, yamlPath: string): Promise<string[]> {
  const p = isAbsolute(entry) ? entry : resolve(root, entry);
  if (await isDir(p)) return listImagesUnder(p);
  if (extname(p).toLowerCase() === '.txt') {
    let text: string;
    try { text = await readFile(p, 'utf8'); } catch { throw new Error(`${yamlPath}: image list ${p} not found`); }
    const base = dirname(p);
    return text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '')
      .map((l) => (isAbsolute(l) ? l : resolve(base, l)))
      .filter((f) => IMAGE_EXTENSIONS.includes(extname(f).toLowerCase()));
  }
  if (IMAGE_EXTENSIONS.includes(extname(p).toLowerCase())) return [p];
  throw new Error(`${yamlPath}: '${entry}' (${p}) is neither a folder, an image list (.txt) nor an image`);
}

async function readLabelFile(path: string): Promise<string | null> {
  try { return await readFile(path, 'utf8'); } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

/**
 * Reads one split of a YOLO dataset. Label files are parsed strictly (a `LabelFormatError` names
 * the file and line); a missing label file makes the image a background image.
 * Items are sorted by image path, so the order does not depend on the file system.
 */
export async function loadDataset(yamlPath: string, split: 'train' | 'val'): Promise<YoloDataset> {
  yamlPath = resolve(yamlPath);
  let doc: unknown;
  try { doc = parse(await readFile(yamlPath, 'utf8')); } catch (e) {
    throw new Error(`${yamlPath}: cannot read dataset yaml: ${(e as Error).message}`, { cause: e });
  }
  const r = DatasetYaml.safeParse(doc);
  if (!r.success) {
    throw new Error(`${yamlPath}: invalid dataset yaml: ${r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
  }
  const y = r.data;
  const names = namesList(y.names, yamlPath);
  const nc = y.nc ?? names.length;
  if (nc !== names.length) throw new Error(`${yamlPath}: nc=${nc} but ${names.length} names`);
  const root = y.path ? resolve(dirname(yamlPath), y.path) : dirname(yamlPath);
  const entries = Array.isArray(y[split]) ? (y[split] as string[]) : [y[split] as string];
  const images = [...new Set((await Promise.all(entries.map((e) => resolveSource(e, root, yamlPath)))).flat())].sort();
  if (images.length === 0) throw new Error(`${yamlPath}: no images found for '${split}' (${entries.join(', ')})`);

  const items: DatasetItem[] = new Array(images.length);
  let backgrounds = 0, duplicates = 0;
  const CONCURRENCY = 64;
  for (let start = 0; start < images.length; start += CONCURRENCY) {
    await Promise.all(images.slice(start, start + CONCURRENCY).map(async (imagePath, k) => {
      const labelPath = labelPathFor(imagePath);
      const text = await readLabelFile(labelPath);
      const parsed = text === null ? { labels: new Float32Array(0), duplicates: 0 } : parseLabels(text, labelPath, nc);
      if (parsed.labels.length === 0) backgrounds++;
      duplicates += parsed.duplicates;
      items[start + k] = { imagePath, labelPath, labels: parsed.labels };
    }));
  }
  return { yamlPath, split, root, items, names, nc, backgrounds, duplicates };
}
