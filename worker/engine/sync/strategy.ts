/**
 * The sync strategy a training loop calls (docs/sync.md):
 *   afterBackward(grads)   with the flat gradient of this rank's batch, before it is applied;
 *   afterStep(target, k)   after optimizer step k (1-based) with the replica's parameters;
 *   flush(target, k)       at an epoch end: a full sync, so validation and checkpoints see one model.
 * allreduce: afterBackward sums the gradient over the ranks (compressed as set); nothing else.
 * local-sgd / diloco / streaming: afterBackward scales this rank's gradient by the world size (it
 * stands for the sum the other ranks do not send), the inner optimizer steps alone, and every
 * `every` optimizer steps each fragment f of the parameters does an outer step:
 *   Δ = mean over ranks of (anchor − params)          (the outer gradient, compressed as set)
 *   v ← Δ on the first outer step, else μ·v + Δ
 *   anchor ← anchor − lr·(Δ + μ·v)                     (Nesterov, as torch.optim.SGD)
 *   params ← anchor + (params − params when Δ was sent)
 * local-sgd is that with lr 1, μ 0 (params ← the ranks' mean); diloco has one fragment applied at
 * once; streaming has `fragments` contiguous slices, fragment f sent `⌊f·H/F⌋` steps before
 * fragment 0 and applied `overlap` steps after it was sent (the last term keeps the inner progress
 * made meanwhile). BatchNorm running statistics: their plain mean over the ranks at every outer
 * sync of fragment 0 and at every flush. EMA: each rank's EMA follows its own replica; the mean
 * of the ranks' EMAs at every flush (the EMA is linear, so that is the EMA of the mean replica).
 * Every operation is float32 with one rounding per operation, in a fixed order.
 * Over 300 lines: the strategies are modes of one class that share its replica bookkeeping and checkpointed state.
 */
import type { CheckpointContent, Json } from '../checkpoint/index.ts';
import { stored } from '../checkpoint/index.ts';
import type { SyncComm } from './comm.ts';
import { sentBytes, sumOverRanks } from './exchange.ts';
import type { SyncSettings } from './options.ts';

const f32 = Math.fround;

export const SYNC_STATE_FORMAT = 'flotilla.sync/1';

/** A flat float32 view of some part of a replica. */
export interface SyncVector {
  readonly size: number;
  read(out: Float32Array): void;
  write(values: Float32Array): void;
}

/** What a strategy reads and writes of a replica. */
export interface SyncTarget {
  /** the trainable parameters, in the optimizer's flat layout */
  params: SyncVector;
  /** BatchNorm running statistics: their mean over the ranks at outer syncs */
  buffers?: SyncVector;
  /** the EMA's averaged tensors: their mean over the ranks at every flush */
  ema?: SyncVector;
  /**
   * the model's values of the same tensors, in the same order: when given, the flush sends each
   * rank's EMA − model (small values) compressed as set, instead of the EMA in float32
   */
  emaModel?: Pick<SyncVector, 'size' | 'read'>;
}

/** The strategy's part of a checkpoint's meta (`meta.sync`); tensors sync/anchor and sync/velocity. */
export interface SyncStateMeta {
  format: string;
  mode: string;
  fragments: number;
  /** outer steps taken, per fragment */
  outerSteps: number[];
  /** optimizer step of each fragment's last send */
  lastSent: number[];
}

interface Pending {
  f: number;
  due: number;
  /** the fragment's parameters when it was sent */
  sent: Float32Array;
  /** lastSent[f] before this send (a checkpoint taken while it is in flight sends it again) */
  before: number;
  result: Promise<Float32Array>;
  /** a flush: no outer step when the mean delta is all zeros */
  skipZero: boolean;
}

export class SyncStrategy {
  readonly local: boolean;
  readonly fragmentCount: number;
  /** [begin, end) of each fragment in the flat vector */
  readonly ranges: ReadonlyArray<readonly [number, number]>;
  readonly anchor: Float32Array;
  readonly velocity: Float32Array;
  readonly outerSteps: number[];
  readonly lastSent: number[];
  /** payload bytes this rank handed to the collective (see exchange.ts sentBytes) */
  bytesSent = 0;
  /** fragment syncs applied */
  syncs = 0;
  private started = false;
  private pending: Pending[] = [];
  private readonly lr: number;
  private readonly mu: number;
  private readonly overlap: number;
  private readonly offsets: number[];
  private gradResidual: Float32Array | undefined;
  private deltaResidual: Float32Array | undefined;

  constructor(
    readonly settings: SyncSettings,
    readonly size: number,
  ) {
    this.local = settings.mode !== 'allreduce';
    const F = settings.mode === 'streaming' ? Math.max(1, Math.min(settings.fragments, settings.every, Math.max(1, size))) : 1;
    this.fragmentCount = F;
    this.ranges = Array.from({ length: F }, (_, f) => [Math.floor((f * size) / F), Math.floor(((f + 1) * size) / F)] as const);
    this.offsets = Array.from({ length: F }, (_, f) => Math.floor((f * settings.every) / F));
    this.lastSent = this.offsets.map((o) => -o);
    this.outerSteps = new Array<number>(F).fill(0);
    this.lr = settings.mode === 'local-sgd' ? 1 : settings.outer_lr;
    this.mu = settings.mode === 'local-sgd' ? 0 : settings.outer_momentum;
    this.overlap = settings.mode === 'streaming' ? settings.overlap : 0;
    this.anchor = new Float32Array(this.local ? size : 0);
    this.velocity = new Float32Array(this.local ? size : 0);
  }

  private get feedback(): boolean {
    return this.settings.error_feedback && (this.settings.compress === 'bf16' || this.settings.compress === 'int8');
  }

  /** Takes the replica's parameters as the anchor, unless a checkpoint's state was loaded. */
  begin(target: SyncTarget): void {
    if (!this.local || this.started) return;
    if (target.params.size !== this.size)
      throw new RangeError(`sync target has ${target.params.size} parameters, the strategy ${this.size}`);
    target.params.read(this.anchor);
    this.started = true;
  }

  /** With this rank's flat gradient, before it is applied. */
  async afterBackward(grads: Float32Array, comm: SyncComm): Promise<void> {
    if (this.local) {
      const w = comm.worldSize;
      if (w > 1) for (let i = 0; i < grads.length; i++) grads[i] *= w;
      return;
    }
    if (comm.worldSize === 1) return;
    if (this.feedback) this.gradResidual ??= new Float32Array(grads.length);
    this.bytesSent += sentBytes(this.settings.compress, grads.length);
    await sumOverRanks(comm, grads, this.settings.compress, this.feedback ? this.gradResidual : undefined);
  }

  /** After optimizer step `k` (1-based); true when the parameters changed. */
  async afterStep(target: SyncTarget, k: number, comm: SyncComm): Promise<boolean> {
    if (!this.local) return false;
    this.begin(target);
    const due = this.pending.some((p) => p.due <= k);
    const send = this.lastSent.map((s, f) => (k - s >= this.settings.every ? f : -1)).filter((f) => f >= 0);
    if (!due && !send.length) return false;
    const params = new Float32Array(this.size);
    target.params.read(params);
    await this.applyDue(params, k);
    for (const f of send) this.send(f, params, k, comm);
    if (send.includes(0)) await this.averageBuffers(target, comm);
    await this.applyDue(params, k);
    target.params.write(params);
    return true;
  }

  /** A full sync (epoch end): exchanges in flight applied, then every fragment sent since its last sync, BN statistics and the EMA averaged. */
  async flush(target: SyncTarget, k: number, comm: SyncComm): Promise<void> {
    if (!this.local) return;
    this.begin(target);
    const params = new Float32Array(this.size);
    target.params.read(params);
    await this.applyDue(params, Number.POSITIVE_INFINITY);
    // the fragments any rank stepped since their last sync (the ranks decide together: one that
    // skipped a non-finite batch may count a step fewer); a mean delta of exact zeros is no outer step
    const need = Float32Array.from(this.lastSent, (last) => (k - last > 0 ? 1 : 0));
    if (comm.worldSize > 1) await comm.allreduce(need);
    for (let f = 0; f < this.fragmentCount; f++) {
      if (need[f] > 0) this.send(f, params, k, comm, k, true);
      this.lastSent[f] = k - this.offsets[f];
    }
    await this.applyDue(params, k);
    target.params.write(params);
    await this.averageBuffers(target, comm);
    if (target.ema && comm.worldSize > 1) {
      const w = comm.worldSize;
      const e = new Float32Array(target.ema.size);
      target.ema.read(e);
      if (target.emaModel && target.emaModel.size === e.length) {
        // after the sync above every rank holds the same model m: EMA = m + mean(EMA_r − m)
        const m = new Float32Array(e.length);
        target.emaModel.read(m);
        for (let i = 0; i < e.length; i++) e[i] -= m[i];
        this.bytesSent += sentBytes(this.settings.compress, e.length);
        await sumOverRanks(comm, e, this.settings.compress);
        for (let i = 0; i < e.length; i++) e[i] = m[i] + e[i] / w;
      } else {
        this.bytesSent += 4 * e.length;
        await comm.allreduce(e);
        for (let i = 0; i < e.length; i++) e[i] /= w;
      }
      target.ema.write(e);
    }
  }

  private async averageBuffers(target: SyncTarget, comm: SyncComm): Promise<void> {
    if (!target.buffers || comm.worldSize === 1) return;
    const b = new Float32Array(target.buffers.size);
    target.buffers.read(b);
    this.bytesSent += 4 * b.length;
    await comm.allreduce(b);
    for (let i = 0; i < b.length; i++) b[i] /= comm.worldSize;
    target.buffers.write(b);
  }

  private send(f: number, params: Float32Array, k: number, comm: SyncComm, due = k + this.overlap, skipZero = false): void {
    const [b, e] = this.ranges[f];
    const delta = new Float32Array(e - b);
    for (let i = b; i < e; i++) delta[i - b] = this.anchor[i] - params[i];
    const w = comm.worldSize;
    const residual = this.feedback ? (this.deltaResidual ??= new Float32Array(this.size)).subarray(b, e) : undefined;
    this.bytesSent += sentBytes(this.settings.compress, e - b);
    const result = sumOverRanks(comm, delta, this.settings.compress, residual).then(() => {
      for (let i = 0; i < delta.length; i++) delta[i] /= w;
      return delta;
    });
    result.catch(() => {}); // awaited in applyDue
    this.pending.push({ f, due, sent: params.slice(b, e), before: this.lastSent[f], result, skipZero });
    this.lastSent[f] = k;
  }

  private async applyDue(params: Float32Array, k: number): Promise<void> {
    while (this.pending.length && this.pending[0].due <= k) {
      const p = this.pending[0];
      const mean = await p.result;
      this.pending.shift();
      if (p.skipZero && mean.every((x) => x === 0)) continue;
      this.outer(p.f, mean, params, p.sent);
    }
  }

  private outer(f: number, mean: Float32Array, params: Float32Array, sent: Float32Array): void {
    const [b, e] = this.ranges[f];
    const first = this.outerSteps[f] === 0;
    const lr = this.lr,
      mu = this.mu;
    const { anchor, velocity } = this;
    for (let i = b; i < e; i++) {
      const j = i - b;
      const g = mean[j];
      const v = first ? g : f32(f32(mu * velocity[i]) + g);
      velocity[i] = v;
      const a = f32(anchor[i] - f32(lr * f32(g + f32(mu * v))));
      anchor[i] = a;
      params[i] = f32(a + f32(params[i] - sent[j]));
    }
    this.outerSteps[f] += 1;
    this.syncs += 1;
  }

  /** The strategy's state, copied (an exchange in flight counts as not sent); undefined in allreduce mode. */
  exportState(): { meta: SyncStateMeta; anchor: Float32Array; velocity: Float32Array } | undefined {
    if (!this.local) return undefined;
    const lastSent = [...this.lastSent];
    for (const p of [...this.pending].reverse()) lastSent[p.f] = p.before;
    const meta: SyncStateMeta = {
      format: SYNC_STATE_FORMAT,
      mode: this.settings.mode,
      fragments: this.fragmentCount,
      outerSteps: [...this.outerSteps],
      lastSent,
    };
    return { meta, anchor: Float32Array.from(this.anchor), velocity: Float32Array.from(this.velocity) };
  }

  /** Adds the strategy's state to checkpoint content: meta.sync, tensors sync/anchor and sync/velocity. */
  writeState(content: CheckpointContent): void {
    const x = this.exportState();
    if (!x) return;
    content.tensors.set('sync/anchor', stored(x.anchor));
    content.tensors.set('sync/velocity', stored(x.velocity));
    content.meta.sync = x.meta as unknown as Json;
  }

  /** Loads what writeState wrote (see importState). */
  readState(content: CheckpointContent): boolean {
    return this.importState(
      content.meta.sync as unknown as SyncStateMeta | undefined,
      content.tensors.get('sync/anchor')?.data,
      content.tensors.get('sync/velocity')?.data,
    );
  }

  /**
   * Loads an exported state; false (nothing loaded: begin() takes the replica's parameters as
   * the anchor) when there is none for this mode and layout. Exchanges in flight are dropped.
   */
  importState(m: SyncStateMeta | undefined, anchor: unknown, velocity: unknown): boolean {
    this.pending = [];
    this.started = false;
    if (!this.local) return false;
    if (!m || m.format !== SYNC_STATE_FORMAT || m.mode !== this.settings.mode || m.fragments !== this.fragmentCount) return false;
    if (
      !(anchor instanceof Float32Array) ||
      !(velocity instanceof Float32Array) ||
      anchor.length !== this.size ||
      velocity.length !== this.size
    )
      return false;
    this.anchor.set(anchor);
    this.velocity.set(velocity);
    m.outerSteps.forEach((v, f) => {
      this.outerSteps[f] = v;
    });
    m.lastSent.forEach((v, f) => {
      this.lastSent[f] = v;
    });
    this.started = true;
    return true;
  }
}
