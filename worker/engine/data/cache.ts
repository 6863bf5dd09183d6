/**
 * Where the loader's decoded images live (train.py --cache):
 * - default (no --cache): kept in RAM when the whole set's decoded images need at most 1 GiB and a
 *   tenth of the available memory (a small set: decoding every batch again costs ~25 % more CPU
 *   on 2 cores for ~30 MB), else as 'none';
 * - 'none': decoded for the batch that needs them and dropped two batches later, as train.py
 *   without --cache; memory stays at a few batches' images whatever the set's size;
 * - 'ram': every image decoded and resized once and kept (train.py --cache ram);
 * - 'disk': the decoded, resized pixels written once beside each image (IMAGE.<img>.rgb), read
 *   back instead of decoding on later epochs and runs, rewritten when the image changes
 *   (train.py --cache disk keeps .npy files there);
 * - 'encoded': the image files' bytes kept in RAM and decoded on every use: no disk reads, about
 *   a sixth of 'ram' at img 640 (a 640×480 JPEG is ~160 kB, its pixels 900 kB), decode CPU as none.
 * 'ram' and 'encoded' check the memory they need against what the machine has available first
 * and refuse with both figures (train.py's check_cache_ram, which warns and does not cache).
 */
import { readFileSync } from 'node:fs';
import { readFile, rename, stat, writeFile } from 'node:fs/promises';
import { freemem } from 'node:os';
import { extname } from 'node:path';
import { EngineError } from '../errors.ts';
import { decodeImage, ImageDecodeError, readImageSize, type LoadedImage } from './image.ts';

/** train.py's --cache values, plus 'encoded' and 'none'. */
export const CACHE_MODES = ['ram', 'disk', 'encoded', 'none'] as const;
export type CacheMode = (typeof CACHE_MODES)[number];

/** A cache that does not fit the memory budget; the message names both byte counts. */
export class CacheBudgetError extends EngineError {
  override name = 'CacheBudgetError';
  readonly retryable = false;
}

/** A disk cache file that cannot be written (a read-only dataset folder, a full disk). */
export class CacheWriteError extends EngineError {
  override name = 'CacheWriteError';
  readonly retryable = false;
}

/** train.py's safety margin: the cache must fit in available memory with 10 % to spare. */
const SAFETY = 1.1;
/** Images whose headers are read to estimate a 'ram' cache (train.py samples 30). */
const SAMPLES = 30;
const MAGIC = 'FLRGB001';
const HEADER = 40;

/** Memory the kernel says can be handed out without swapping (MemAvailable), else free memory. */
export function availableMemory(): number {
  try {
    const m = /MemAvailable:\s+(\d+) kB/.exec(readFileSync('/proc/meminfo', 'utf8'));
    if (m) return Number(m[1]) * 1024;
  } catch {}
  return freemem();
}

const gb = (b: number) => `${(b / 2 ** 30).toFixed(2)} GB (${Math.round(b)} bytes)`;

/**
 * Bytes a `mode` cache of `paths` at long side `maxSide` needs: 'encoded' the files' sizes,
 * 'ram' the resized pixels estimated from up to 30 evenly spaced images' headers; 0 for 'disk'.
 */
export async function cacheBytes(paths: readonly string[], maxSide: number, mode: CacheMode): Promise<number> {
  if (mode === 'disk' || mode === 'none' || paths.length === 0) return 0;
  if (mode === 'encoded') {
    let sum = 0;
    for (const p of paths) sum += (await stat(p)).size;
    return sum;
  }
  const k = Math.min(SAMPLES, paths.length);
  let sum = 0;
  for (let j = 0; j < k; j++) {
    const { width, height } = await readImageSize(paths[Math.floor((j * paths.length) / k)]);
    const r = maxSide > 0 ? maxSide / Math.max(width, height) : 1;
    sum += Math.ceil(width * r) * Math.ceil(height * r) * 3;
  }
  return (sum / k) * paths.length;
}

/** Throws CacheBudgetError when a `mode` cache of `paths` does not fit `budget` bytes (default: available memory). */
export async function checkCacheBudget(
  paths: readonly string[],
  maxSide: number,
  mode: CacheMode,
  budget = availableMemory(),
): Promise<{ need: number; budget: number }> {
  const need = await cacheBytes(paths, maxSide, mode);
  if (need * SAFETY > budget)
    throw new CacheBudgetError(
      `--cache ${mode}: caching ${paths.length} images at img ${maxSide} needs ${gb(need * SAFETY)} ` +
        `(${gb(need)} + 10% margin) but ${gb(budget)} are available; use --cache ${mode === 'ram' ? 'encoded or --cache disk' : 'disk'}, or no --cache`,
    );
  return { need, budget };
}

/** The disk cache file of `imagePath` at long side `maxSide`: beside it, IMAGE.<maxSide>.rgb. */
export function diskCachePath(imagePath: string, maxSide: number): string {
  const ext = extname(imagePath);
  return `${ext ? imagePath.slice(0, -ext.length) : imagePath}.${maxSide}.rgb`;
}

/** Reads a disk cache file if it belongs to the image as it is now (same size and mtime). */
async function readDiskCache(file: string, src: { size: number; mtimeMs: number }): Promise<LoadedImage | null> {
  let buf: Buffer;
  try {
    buf = await readFile(file);
  } catch {
    return null;
  }
  if (buf.length < HEADER || buf.toString('latin1', 0, 8) !== MAGIC) return null;
  const width = buf.readUInt32LE(8),
    height = buf.readUInt32LE(12);
  if (buf.readDoubleLE(24) !== src.size || buf.readDoubleLE(32) !== src.mtimeMs || buf.length !== HEADER + width * height * 3) return null;
  return {
    data: new Uint8Array(buf.buffer, buf.byteOffset + HEADER, width * height * 3),
    width,
    height,
    origWidth: buf.readUInt32LE(16),
    origHeight: buf.readUInt32LE(20),
  };
}

async function writeDiskCache(file: string, im: LoadedImage, src: { size: number; mtimeMs: number }): Promise<void> {
  const head = Buffer.alloc(HEADER);
  head.write(MAGIC, 0, 'latin1');
  head.writeUInt32LE(im.width, 8);
  head.writeUInt32LE(im.height, 12);
  head.writeUInt32LE(im.origWidth, 16);
  head.writeUInt32LE(im.origHeight, 20);
  head.writeDoubleLE(src.size, 24);
  head.writeDoubleLE(src.mtimeMs, 32);
  // a reader never sees half a file: write aside, then rename over
  const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  await writeFile(tmp, Buffer.concat([head, im.data]));
  await rename(tmp, file);
}

/** Options of {@link ImageStore}. */
export interface ImageStoreOptions {
  /** default: 'ram' for a set whose images fit min(1 GiB, budget / 10), else 'none' */
  mode?: CacheMode;
  /** bytes 'ram'/'encoded' may use (default: available memory, /proc/meminfo MemAvailable) */
  budget?: number;
}

/** The most a default (no --cache) store keeps decoded in RAM. */
export const AUTO_RAM_MAX = 2 ** 30;

/**
 * The loader's images by dataset index: `ensure` makes a batch's images ready, `get` hands one
 * out. Without a RAM cache it keeps the images of the last two `ensure` calls (the batch being
 * assembled and the one decoding ahead of it) and drops older ones.
 */
export class ImageStore {
  private readonly done = new Map<number, LoadedImage>();
  private readonly pending = new Map<number, Promise<LoadedImage>>();
  private readonly encoded = new Map<number, Buffer>();
  private mode: CacheMode | undefined;
  private checked: Promise<unknown> | null = null;
  private decided: Promise<void> | null = null;
  private previous = new Set<number>();

  constructor(
    private readonly paths: readonly string[],
    private readonly maxSide: number,
    private readonly opts: ImageStoreOptions = {},
  ) {
    this.mode = opts.mode;
  }

  /** Decoded images held now. */
  get size(): number {
    return this.done.size;
  }

  /** Decoded image `i`; `ensure` must have made it ready. */
  get(i: number): LoadedImage {
    const im = this.done.get(i);
    if (!im) throw new Error(`ImageStore: image ${i} not loaded (call ensure first)`);
    return im;
  }

  /** Makes every index in `indices` ready, `concurrency` decodes at a time. */
  async ensure(indices: Iterable<number>, concurrency = 8): Promise<void> {
    const want = new Set(indices);
    if (this.mode === undefined) {
      this.decided ??= this.decide();
      await this.decided;
    }
    if (this.mode !== 'ram') {
      for (const i of this.done.keys()) if (!want.has(i) && !this.previous.has(i)) this.done.delete(i);
      this.previous = want;
    }
    if (this.mode === 'ram' || this.mode === 'encoded') {
      this.checked ??= checkCacheBudget(this.paths, this.maxSide, this.mode, this.opts.budget);
      await this.checked;
    }
    const todo = [...want].filter((i) => !this.done.has(i));
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < todo.length) {
        const i = todo[next++];
        let p = this.pending.get(i);
        if (!p) {
          p = this.load(i);
          this.pending.set(i, p);
          p.then(
            (im) => {
              this.done.set(i, im);
              this.pending.delete(i);
            },
            () => this.pending.delete(i),
          );
        }
        await p;
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, todo.length) }, worker));
  }

  /** The default's choice: 'ram' for a small set, else 'none'. */
  private async decide(): Promise<void> {
    const need = await cacheBytes(this.paths, this.maxSide, 'ram');
    this.mode = need <= Math.min(AUTO_RAM_MAX, (this.opts.budget ?? availableMemory()) / 10) ? 'ram' : 'none';
    // a 'ram' chosen here fits by construction: no second check
    this.checked = Promise.resolve();
  }

  /** The mode in use ('ram' or 'none' once a default store has decided; undefined before). */
  get cacheMode(): CacheMode | undefined {
    return this.mode;
  }

  private async load(i: number): Promise<LoadedImage> {
    const path = this.paths[i];
    if (this.mode === 'encoded') {
      let bytes = this.encoded.get(i);
      if (!bytes) {
        bytes = await readFile(path).catch((e) => {
          throw new ImageDecodeError(path, e);
        });
        this.encoded.set(i, bytes);
      }
      try {
        return await decodeImage(bytes, this.maxSide);
      } catch (e) {
        throw new ImageDecodeError(path, (e as Error).cause ?? e);
      }
    }
    if (this.mode !== 'disk') return decodeImage(path, this.maxSide);
    const src = await stat(path).catch((e) => {
      throw new ImageDecodeError(path, e);
    });
    const file = diskCachePath(path, this.maxSide);
    const hit = await readDiskCache(file, src);
    if (hit) return hit;
    const im = await decodeImage(path, this.maxSide);
    try {
      await writeDiskCache(file, im, src);
    } catch (e) {
      throw new CacheWriteError(`--cache disk: cannot write ${file}: ${(e as Error).message} (is the dataset folder writable?)`, {
        cause: e,
      });
    }
    return im;
  }
}
