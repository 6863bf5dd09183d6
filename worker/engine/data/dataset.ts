/**
 * YOLO-format datasets read as-is: a dataset yaml (`path`, `train`, `val`, `names`, optional `nc`),
 * images under `images/` and labels under the parallel `labels/` folder, one `.txt` per image.
 */
import { readFile, readdir, stat } from 'node:fs/promises';
import { dirname, extname, isAbsolute, join, resolve, sep } from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';
import { readImageSize } from './image.ts';
import { parseLabels, type ParsedLabels } from './labels.ts';

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
  /** images without a label file / with an empty one (together: backgrounds) */
  missingLabels: number;
  emptyLabels: number;
  /** images left out (with `skipCorrupt`): unreadable, under 10 px, or a malformed label file */
  corrupt: { image: string; reason: string }[];
  /** `.txt` files in the label folders that belong to no image of the split */
  orphanLabels: string[];
}

/** Options of {@link loadDataset}. */
export interface LoadDatasetOptions {
  /**
   * train.py's behaviour: check every image's header (unreadable or under 10 px) and leave out
   * images whose image or label file is corrupt, naming each with the reason; default false,
   * where a malformed label file is an error (and images are not opened).
   */
  skipCorrupt?: boolean;
  /**
   * train.py --single-cls: every label becomes class 0, nc = 1, and the names become ['item']
   * (a dataset that already has one name keeps it); labels are still checked against the yaml's nc.
   */
  singleCls?: boolean;
}

/** Smallest image side train.py accepts. */
export const MIN_IMAGE_SIDE = 10;

const Names = z.union([z.array(z.string()), z.record(z.string(), z.string())]);
const Source = z.union([z.string(), z.array(z.string()).min(1)]);
const DatasetYaml = z
  .object({
    path: z.string().optional(),
    train: Source,
    val: Source,
    test: Source.nullish(),
    nc: z.number().int().positive().optional(),
    names: Names,
  })
  .passthrough();

/** The label path of an image: the last `/images/` becomes `/labels/`, the extension `.txt`. */
export function labelPathFor(imagePath: string): string {
  const a = `${sep}images${sep}`,
    b = `${sep}labels${sep}`;
  const i = imagePath.lastIndexOf(a);
  const swapped = i >= 0 ? imagePath.slice(0, i) + b + imagePath.slice(i + a.length) : imagePath;
  const ext = extname(swapped);
  return (ext ? swapped.slice(0, -ext.length) : swapped) + '.txt';
}

function namesList(names: z.infer<typeof Names>, file: string): string[] {
  if (Array.isArray(names)) return names;
  const keys = Object.keys(names)
    .map(Number)
    .sort((x, y) => x - y);
  keys.forEach((k, i) => {
    if (k !== i) throw new Error(`${file}: names must be numbered 0..n-1 (found key ${k})`);
  });
  return keys.map((k) => names[String(k)]);
}

async function isDir(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isDirectory();
  } catch {
    return false;
  }
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
    try {
      text = await readFile(p, 'utf8');
    } catch {
      throw new Error(`${yamlPath}: image list ${p} not found`);
    }
    const base = dirname(p);
    return text
      .split(/\r?\n/)
      .map((l) => l.trim())
      .filter((l) => l !== '')
      .map((l) => (isAbsolute(l) ? l : resolve(base, l)))
      .filter((f) => IMAGE_EXTENSIONS.includes(extname(f).toLowerCase()));
  }
  if (IMAGE_EXTENSIONS.includes(extname(p).toLowerCase())) return [p];
  throw new Error(`${yamlPath}: '${entry}' (${p}) is neither a folder, an image list (.txt) nor an image`);
}

async function readLabelFile(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

/**
 * Reads one split of a YOLO dataset. Label files are parsed strictly (a `LabelFormatError` names
 * the file and line); a missing label file makes the image a background image.
 * Items are sorted by image path, so the order does not depend on the file system.
 */
export async function loadDataset(yamlPath: string, split: 'train' | 'val', opts: LoadDatasetOptions = {}): Promise<YoloDataset> {
  yamlPath = resolve(yamlPath);
  let doc: unknown;
  try {
    doc = parse(await readFile(yamlPath, 'utf8'));
  } catch (e) {
    throw new Error(`${yamlPath}: cannot read dataset yaml: ${(e as Error).message}`, { cause: e });
  }
  const r = DatasetYaml.safeParse(doc);
  if (!r.success) {
    throw new Error(
      `${yamlPath}: invalid dataset yaml: ${r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`,
    );
  }
  const y = r.data;
  const names = namesList(y.names, yamlPath);
  const nc = y.nc ?? names.length;
  if (nc !== names.length) throw new Error(`${yamlPath}: nc=${nc} but ${names.length} names`);
  const root = y.path ? resolve(dirname(yamlPath), y.path) : dirname(yamlPath);
  const entries = Array.isArray(y[split]) ? (y[split] as string[]) : [y[split] as string];
  const images = [...new Set((await Promise.all(entries.map((e) => resolveSource(e, root, yamlPath)))).flat())].sort();
  if (images.length === 0) throw new Error(`${yamlPath}: no images found for '${split}' (${entries.join(', ')})`);

  const slots: (DatasetItem | null)[] = new Array(images.length).fill(null);
  let duplicates = 0,
    missingLabels = 0,
    emptyLabels = 0;
  const corrupt: { image: string; reason: string }[] = [];
  const CONCURRENCY = 64;
  for (let start = 0; start < images.length; start += CONCURRENCY) {
    await Promise.all(
      images.slice(start, start + CONCURRENCY).map(async (imagePath, k) => {
        const labelPath = labelPathFor(imagePath);
        const text = await readLabelFile(labelPath);
        let parsed: ParsedLabels;
        try {
          if (opts.skipCorrupt) {
            const { width, height } = await readImageSize(imagePath);
            if (width < MIN_IMAGE_SIDE || height < MIN_IMAGE_SIDE)
              throw new Error(`image size ${width}x${height} <${MIN_IMAGE_SIDE} pixels`);
          }
          parsed = text === null ? { labels: new Float32Array(0), duplicates: 0 } : parseLabels(text, labelPath, nc);
        } catch (e) {
          if (!opts.skipCorrupt) throw e;
          corrupt.push({ image: imagePath, reason: e instanceof Error ? e.message : String(e) });
          return;
        }
        if (text === null) missingLabels++;
        else if (parsed.labels.length === 0) emptyLabels++;
        duplicates += parsed.duplicates;
        slots[start + k] = { imagePath, labelPath, labels: parsed.labels };
      }),
    );
  }
  const items = slots.filter((x): x is DatasetItem => x !== null);
  if (items.length === 0)
    throw new Error(
      `${yamlPath}: every one of the ${images.length} '${split}' images is corrupt (first: ${corrupt[0]?.image}: ${corrupt[0]?.reason})`,
    );
  corrupt.sort((a, b) => (a.image < b.image ? -1 : 1));
  const orphanLabels = await orphansOf(images);
  if (opts.singleCls) {
    for (const it of items) for (let i = 0; i < it.labels.length; i += 5) it.labels[i] = 0;
    return {
      yamlPath,
      split,
      root,
      items,
      names: names.length === 1 ? names : ['item'],
      nc: 1,
      backgrounds: missingLabels + emptyLabels,
      duplicates,
      missingLabels,
      emptyLabels,
      corrupt,
      orphanLabels,
    };
  }
  return {
    yamlPath,
    split,
    root,
    items,
    names,
    nc,
    backgrounds: missingLabels + emptyLabels,
    duplicates,
    missingLabels,
    emptyLabels,
    corrupt,
    orphanLabels,
  };
}

/** Label files in the images' label folders that no image of the list owns. */
async function orphansOf(images: string[]): Promise<string[]> {
  const owned = new Set(images.map(labelPathFor));
  const dirs = new Set([...owned].map((p) => dirname(p)));
  const out: string[] = [];
  for (const d of dirs) {
    let names: string[];
    try {
      names = await readdir(d);
    } catch {
      continue;
    }
    for (const n of names) if (n.endsWith('.txt') && !owned.has(join(d, n))) out.push(join(d, n));
  }
  return out.sort();
}

/** The scan report train.py users read: counts on one line, then one warning per left-out file. */
export function scanReport(ds: YoloDataset): string[] {
  const n = ds.items.length;
  const lines = [
    `${ds.split}: ${n} images, ${ds.backgrounds} backgrounds (${ds.missingLabels} without a label file, ${ds.emptyLabels} empty), ` +
      `${ds.corrupt.length} corrupt, ${ds.duplicates} duplicate labels removed, ${ds.orphanLabels.length} label files without an image`,
  ];
  for (const c of ds.corrupt) lines.push(`${ds.split}: WARNING ⚠️ ${c.image}: ignoring corrupt image/label: ${c.reason}`);
  const show = ds.orphanLabels.slice(0, 10);
  for (const o of show) lines.push(`${ds.split}: WARNING ⚠️ ${o}: label file without an image`);
  if (ds.orphanLabels.length > show.length)
    lines.push(`${ds.split}: … and ${ds.orphanLabels.length - show.length} more label files without an image`);
  return lines;
}
