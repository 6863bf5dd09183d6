/**
 * The batch loader: a seeded, sharded, resumable stream of NHWC float batches with YOLO targets.
 *
 * Randomness is keyed, not sequential: the epoch permutation comes from (seed, epoch) and each
 * sample's augmentation from (seed, epoch, position in the epoch order). So a batch is a pure
 * function of (seed, epoch, index), the same on any rank layout, and resuming needs only the
 * seed and the cursor — `state()` is everything a checkpoint has to keep.
 * Over 300 lines: one loader class whose keyed shuffling, sharding, mosaic and resume state belong together.
 */
import { loadHyp } from '../hyp/index.ts';
import { xywhnToXyxy, xyxyToXywhn, concatLabels } from './boxes.ts';
import { randomHsvLuts, writeSample } from './hsv.ts';
import { ImageStore } from './cache.ts';
import { readImageSize, type RgbImage } from './image.ts';
import { letterbox } from './letterbox.ts';
import { LoaderPool } from './loader-pool.ts';
import type { Batch, ImageShape, Loader, LoaderCursor, LoaderOptions, LoaderState } from './loader-types.ts';
import { mosaic, type MosaicScratch } from './mosaic.ts';
import { randomPerspective } from './perspective.ts';
import { aspectOrder, rectShape } from './rect.ts';
import { deriveRng, type Rng } from './rng.ts';
import { weightedDraw } from './image-weights.ts';
import { batchPositions, batchesPerEpoch, epochOrder } from './sampler.ts';

interface SamplePlan {
  index: number;
  position: number;
  mosaic: number[] | null;
  mixup: number[] | null;
}

const PLAN_KEY = 1,
  AUGMENT_KEY = 2;

class YoloLoader implements Loader {
  readonly length: number;
  readonly batchSize: number;
  readonly rank: number;
  readonly worldSize: number;
  private readonly o: Required<Omit<LoaderOptions, 'cursor' | 'rank' | 'worldSize' | 'cache' | 'cacheBudget'>>;
  private readonly opts: LoaderOptions;
  private pool: LoaderPool | null = null;
  private readonly cache: ImageStore;
  private readonly n: number;
  private pos: LoaderCursor;
  private ars: Float64Array | null = null;
  private rectOrder: Uint32Array | null = null;
  private readonly scratch: MosaicScratch = {};
  private orderCache: { epoch: number; order: Uint32Array } | null = null;
  /** --image-weights: the epoch whose order is drawn by these weights (other epochs keep the plain order) */
  private weighted: { epoch: number; weights: Float64Array } | null = null;

  constructor(opts: LoaderOptions) {
    const n = opts.dataset.items.length;
    const rank = opts.rank ?? 0,
      worldSize = opts.worldSize ?? 1;
    if (!(opts.batchSize >= 1) || !Number.isInteger(opts.batchSize))
      throw new Error(`createLoader: batchSize must be a positive integer (got ${opts.batchSize})`);
    if (!(worldSize >= 1) || !Number.isInteger(worldSize) || !(rank >= 0 && rank < worldSize) || !Number.isInteger(rank))
      throw new Error(`createLoader: rank ${rank} of worldSize ${worldSize} is invalid`);
    if (!(opts.img >= 32)) throw new Error(`createLoader: img must be >= 32 (got ${opts.img})`);
    if (n === 0) throw new Error('createLoader: empty dataset');
    const rect = opts.rect ?? false;
    this.o = {
      dataset: opts.dataset,
      batchSize: opts.batchSize,
      img: opts.img,
      augment: opts.augment,
      hyp: opts.hyp ?? loadHyp(),
      seed: opts.seed >>> 0,
      rect,
      shuffle: opts.shuffle ?? (opts.augment && !rect),
      stride: opts.stride ?? 32,
      pad: opts.pad ?? (opts.augment ? 0 : 0.5),
      decodeConcurrency: opts.decodeConcurrency ?? 8,
      workers: opts.workers ?? 0,
    };
    if (!(Number.isInteger(this.o.workers) && this.o.workers >= 0))
      throw new Error(`createLoader: workers must be a non-negative integer (got ${opts.workers})`);
    this.opts = { ...opts, hyp: this.o.hyp };
    this.n = n;
    this.rank = rank;
    this.worldSize = worldSize;
    this.batchSize = opts.batchSize;
    this.length = batchesPerEpoch(n, worldSize, opts.batchSize);
    this.cache = new ImageStore(
      opts.dataset.items.map((it) => it.imagePath),
      opts.img,
      { ...(opts.cache ? { mode: opts.cache } : {}), ...(opts.cacheBudget === undefined ? {} : { budget: opts.cacheBudget }) },
    );
    this.pos = { epoch: opts.cursor?.epoch ?? 0, index: opts.cursor?.index ?? 0 };
  }

  cursor(): LoaderCursor {
    return { ...this.pos };
  }

  state(): LoaderState {
    const total = Math.ceil(this.n / this.worldSize) * this.worldSize;
    return { seed: this.o.seed, ...this.pos, position: Math.min(total, this.pos.index * this.worldSize * this.batchSize) };
  }

  async warm(): Promise<void> {
    await this.cache.ensure(
      Array.from({ length: this.n }, (_, i) => i),
      this.o.decodeConcurrency,
    );
  }

  async close(): Promise<void> {
    const pool = this.pool;
    this.pool = null;
    await pool?.close();
  }

  setImageWeights(epoch: number, weights: Float64Array | null): void {
    if (weights && weights.length !== this.n) throw new RangeError(`setImageWeights: ${weights.length} weights for ${this.n} images`);
    this.weighted = weights ? { epoch, weights: Float64Array.from(weights) } : null;
    this.orderCache = null;
    this.pool?.setImageWeights(epoch, weights);
  }

  private threads(): LoaderPool {
    if (!this.pool) {
      this.pool = new LoaderPool(this.opts, this.o.workers);
      if (this.weighted) this.pool.setImageWeights(this.weighted.epoch, this.weighted.weights);
    }
    return this.pool;
  }

  async *epochBatches(epoch: number, from?: number): AsyncIterable<Batch> {
    let k = from ?? (this.pos.epoch === epoch ? this.pos.index : 0);
    if (!(Number.isInteger(k) && k >= 0)) throw new RangeError(`epochBatches: start ${k} is not a batch index`);
    if (this.o.workers > 0) {
      // keep every thread busy with a batch ahead; batches still come out in order
      const pool = this.threads();
      const ahead: Promise<Batch>[] = [];
      const ask = (j: number) => {
        const p = pool.request(epoch, j);
        p.catch(() => {});
        ahead.push(p);
      };
      for (let j = k; j < Math.min(this.length, k + this.o.workers); j++) ask(j);
      for (; k < this.length; k++) {
        const batch = await ahead.shift()!;
        if (k + this.o.workers < this.length) ask(k + this.o.workers);
        this.pos = k + 1 < this.length ? { epoch, index: k + 1 } : { epoch: epoch + 1, index: 0 };
        yield batch;
      }
      return;
    }
    let plans = k < this.length ? await this.plan(epoch, k) : null;
    let ready = plans ? this.load(plans) : null;
    for (; k < this.length; k++) {
      await ready;
      const current = plans!;
      // decode the next batch's images (sharp works off the main thread) while this one is assembled and consumed
      plans = k + 1 < this.length ? await this.plan(epoch, k + 1) : null;
      ready = plans ? this.load(plans) : null;
      ready?.catch(() => {}); // awaited on the next iteration
      const batch = this.assemble(epoch, k, current);
      this.pos = k + 1 < this.length ? { epoch, index: k + 1 } : { epoch: epoch + 1, index: 0 };
      yield batch;
    }
  }

  async getBatch(epoch: number, index: number): Promise<Batch> {
    if (!(index >= 0 && index < this.length)) throw new RangeError(`getBatch: index ${index} outside 0..${this.length - 1}`);
    if (this.o.workers > 0) return this.threads().request(epoch, index);
    const plans = await this.plan(epoch, index);
    await this.load(plans);
    return this.assemble(epoch, index, plans);
  }

  private async load(plans: SamplePlan[]): Promise<void> {
    const need: number[] = [];
    for (const p of plans) need.push(p.index, ...(p.mosaic ?? []), ...(p.mixup ?? []));
    await this.cache.ensure(need, this.o.decodeConcurrency);
  }

  private async aspectRatios(): Promise<Float64Array> {
    if (!this.ars) {
      const items = this.o.dataset.items,
        ars = new Float64Array(items.length);
      for (let start = 0; start < items.length; start += 256) {
        const sizes = await Promise.all(items.slice(start, start + 256).map((it) => readImageSize(it.imagePath)));
        sizes.forEach((s, k) => {
          ars[start + k] = s.height / s.width;
        });
      }
      this.ars = ars;
      this.rectOrder = aspectOrder(this.ars);
    }
    return this.ars;
  }

  private async plan(epoch: number, k: number): Promise<SamplePlan[]> {
    const { augment, rect, hyp, seed, shuffle } = this.o;
    if (rect) await this.aspectRatios();
    const w = this.weighted?.epoch === epoch ? this.weighted.weights : null;
    if (this.orderCache?.epoch !== epoch) {
      // image weights: the epoch's images drawn with replacement (already random: no shuffle on top)
      const base = w ? weightedDraw(w, this.n, seed, epoch) : rect ? this.rectOrder! : undefined;
      this.orderCache = { epoch, order: epochOrder(this.n, this.worldSize, seed, epoch, shuffle && !rect && !w, base) };
    }
    const order = this.orderCache.order;
    // as train.py, a weighted epoch's mosaic partners come from the drawn images too
    const pick = w ? (rng: Rng) => order[rng.int(this.n)] : (rng: Rng) => rng.int(this.n);
    return batchPositions(this.n, this.worldSize, this.rank, this.batchSize, k).map((position) => {
      const index = order[position];
      const rng = deriveRng(seed, epoch, position, PLAN_KEY);
      const useMosaic = augment && !rect && rng.random() < hyp.mosaic;
      const mos = useMosaic ? this.mosaicIndices(index, rng, pick) : null;
      const mix = useMosaic && rng.random() < hyp.mixup ? this.mosaicIndices(pick(rng), rng, pick) : null;
      return { index, position, mosaic: mos, mixup: mix };
    });
  }

  /** [index, 3 random others] shuffled, as the reference's load_mosaic. */
  private mosaicIndices(index: number, rng: Rng, pick: (rng: Rng) => number): number[] {
    const ids = [index, pick(rng), pick(rng), pick(rng)];
    for (let i = 3; i > 0; i--) {
      const j = rng.int(i + 1);
      [ids[i], ids[j]] = [ids[j], ids[i]];
    }
    return ids;
  }

  private assemble(epoch: number, k: number, plans: SamplePlan[]): Batch {
    const { img, rect, stride, pad } = this.o;
    const B = plans.length;
    const [H, W] = rect
      ? rectShape(
          plans.map((p) => this.ars![p.index]),
          img,
          stride,
          pad,
        )
      : [img, img];
    const images = new Float32Array(B * H * W * 3);
    const targetParts: Float32Array[] = [];
    const shapes: (ImageShape | null)[] = [];
    plans.forEach((p, b) => {
      const s = this.sample(epoch, p, H, W, images, b * H * W * 3);
      shapes.push(s.shape);
      const nl = s.labels.length / 5;
      const t = new Float32Array(nl * 6);
      for (let i = 0; i < nl; i++) {
        t[i * 6] = b;
        t.set(s.labels.subarray(i * 5, i * 5 + 5), i * 6 + 1);
      }
      targetParts.push(t);
    });
    const items = this.o.dataset.items;
    return {
      images,
      targets: concatLabels(targetParts),
      shapes,
      paths: plans.map((p) => items[p.index].imagePath),
      indices: plans.map((p) => p.index),
      batchSize: B,
      height: H,
      width: W,
      epoch,
      index: k,
    };
  }

  /** Builds one sample into `dst` at `offset`; returns its normalised labels and shape. */
  private sample(
    epoch: number,
    p: SamplePlan,
    H: number,
    W: number,
    dst: Float32Array,
    offset: number,
  ): { labels: Float32Array; shape: ImageShape | null } {
    const { augment, hyp, seed, img } = this.o;
    const items = this.o.dataset.items;
    const rng = deriveRng(seed, epoch, p.position, AUGMENT_KEY);
    let image: RgbImage,
      px: Float32Array,
      shape: ImageShape | null = null;
    if (p.mosaic) {
      const tile = (i: number) => ({ image: this.cache.get(i), labels: items[i].labels });
      ({ image, labels: px } = mosaic(p.mosaic.map(tile), img, rng, hyp, this.scratch));
      if (p.mixup) {
        const other = mosaic(p.mixup.map(tile), img, rng, hyp);
        const r = rng.beta(32, 32);
        const a = image.data,
          c = other.image.data;
        for (let i = 0; i < a.length; i++) a[i] = a[i] * r + c[i] * (1 - r);
        px = concatLabels([px, other.labels]);
      }
    } else {
      const im = this.cache.get(p.index);
      const lb = letterbox(im, H, W, augment);
      const cw = Math.round(im.width * lb.ratio),
        ch = Math.round(im.height * lb.ratio);
      shape = {
        origWidth: im.origWidth,
        origHeight: im.origHeight,
        gainX: cw / im.origWidth,
        gainY: ch / im.origHeight,
        padX: lb.left,
        padY: lb.top,
      };
      image = lb.image;
      px = xywhnToXyxy(items[p.index].labels, cw, ch, lb.left, lb.top);
      if (augment) ({ image, labels: px } = randomPerspective(image, px, rng, hyp));
    }
    const labels = xyxyToXywhn(px, W, H);
    let luts = null,
      flipUD = false,
      flipLR = false;
    if (augment) {
      luts = randomHsvLuts(rng, hyp.hsv_h, hyp.hsv_s, hyp.hsv_v);
      flipUD = rng.random() < hyp.flipud;
      flipLR = rng.random() < hyp.fliplr;
      for (let i = 0; i < labels.length; i += 5) {
        if (flipUD) labels[i + 2] = 1 - labels[i + 2];
        if (flipLR) labels[i + 1] = 1 - labels[i + 1];
      }
    }
    writeSample(dst, offset, image, luts, flipLR, flipUD);
    return { labels, shape };
  }
}

/** A loader over `dataset` (see `LoaderOptions` for defaults). */
export function createLoader(opts: LoaderOptions): Loader {
  return new YoloLoader(opts);
}
