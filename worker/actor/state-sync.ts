/**
 * Agreeing on one training state when a gang (re)forms, over the gang's own collective group:
 * every rank tells whether it holds a state and its step; the ranks at the highest step are the
 * donors, every other rank (a replacement with no state, or a survivor whose last allreduce
 * failed where a donor's completed) receives a donor's state: the trainer's own serialisation
 * (the checkpoint format's bytes), chunked by the collective under max_payload, checked against
 * the donor's SHA-256. Donors whose bytes are the same (same digest) send a slice each, in
 * parallel. When nobody holds a state, or a transfer fails its digest, every rank is told to
 * load the newest checkpoint, so the gang never splits. Ranks call it in the same order as any
 * other collective operation.
 */
import { createHash } from 'node:crypto';
import type { CollectiveGroup } from './group.ts';

/** A rank's state in memory: the last step applied to it, and its bytes on demand. */
export interface LocalState {
  step: number;
  /**
   * the generation in which `step` was applied by a live gang (undefined: the state came from a
   * checkpoint or is fresh). Rank 0 of the new gang uses it to make sure that step is reported
   * once (see ActorContext.reportStep): the rank 0 that applied it may have died before reporting.
   */
  appliedIn?: number;
  encode(): Uint8Array;
  /** SHA-256 (hex) of encode()'s bytes, when the caller already has it (a survivor encodes its state while it waits for its gang) */
  sha256?: string;
}

export type SyncResult =
  /** this rank's own state is the gang's (it was at the highest step); `sha256` of its bytes when it sent them */
  | { source: 'self'; step: number; appliedIn?: number; sha256?: string }
  /** received: `bytes` of the state at `step`, sent by `donors` (`appliedIn`: the donors' LocalState.appliedIn) */
  | { source: 'peer'; step: number; appliedIn?: number; bytes: Uint8Array; donors: number[]; sha256: string; ms: number }
  /** every rank must load the newest checkpoint */
  | { source: 'checkpoint'; reason: string };

const U16 = 65_536;
/** digest as 16 float32-exact 16-bit words */
const DIGEST_WORDS = 16;

function split(n: number): [number, number] {
  return [Math.floor(n / U16), n % U16];
}
function join(hi: number, lo: number): number {
  return hi * U16 + lo;
}

function digestWords(hex: string): number[] {
  const out: number[] = [];
  for (let i = 0; i < DIGEST_WORDS; i++) out.push(parseInt(hex.slice(i * 4, i * 4 + 4), 16));
  return out;
}
function wordsHex(w: ArrayLike<number>): string {
  let s = '';
  for (let i = 0; i < DIGEST_WORDS; i++) s += Math.round(w[i]).toString(16).padStart(4, '0');
  return s;
}

/** Byte range of slice `k` of `K` of `len` bytes, aligned to 4 (float32 carriers). */
export function sliceRange(len: number, k: number, K: number): [number, number] {
  const words = Math.ceil(len / 4);
  const per = Math.ceil(words / K);
  return [Math.min(len, k * per * 4), Math.min(len, (k + 1) * per * 4)];
}

function asFloats(bytes: Uint8Array): Float32Array {
  const padded = new Uint8Array(Math.ceil(bytes.length / 4) * 4);
  padded.set(bytes);
  return new Float32Array(padded.buffer);
}

/** Agrees on the gang's state; every rank gets a result consistent with every other's. */
export async function syncState(group: CollectiveGroup, mine: LocalState | null): Promise<SyncResult> {
  const applied = (g: number | undefined) => (g === undefined ? {} : { appliedIn: g });
  if (group.worldSize === 1)
    return mine ? { source: 'self', step: mine.step, ...applied(mine.appliedIn) } : { source: 'checkpoint', reason: 'no state in memory' };
  const [hi, lo] = split(mine?.step ?? 0);
  // the generation that applied the step, +1 (0: none known)
  const [ghi, glo] = split(mine?.appliedIn === undefined ? 0 : mine.appliedIn + 1);
  const heads = await group.allgather(Float32Array.of(mine ? 1 : 0, hi, lo, ghi, glo));
  const steps = heads.map((h) => (h[0] === 1 ? join(h[1], h[2]) : -1));
  const top = Math.max(...steps);
  if (top < 0) return { source: 'checkpoint', reason: 'no rank holds a state' };
  const donors = steps.flatMap((s, r) => (s === top ? [r] : []));
  // every donor applied `top` in the same generation (one collective operation); the highest known is taken
  const gens = donors.map((r) => join(heads[r][3], heads[r][4]) - 1).filter((g) => g >= 0);
  const appliedIn = gens.length ? Math.max(...gens) : undefined;
  const receivers = steps.flatMap((s, r) => (s !== top ? [r] : []));
  if (receivers.length === 0) return { source: 'self', step: top, ...applied(appliedIn) };
  const me = group.rank;
  const isDonor = donors.includes(me);

  // donors: length and digest of their bytes
  const bytes = isDonor && mine ? mine.encode() : new Uint8Array(0);
  const sha = isDonor ? (mine?.sha256 ?? createHash('sha256').update(bytes).digest('hex')) : '';
  const [lh, ll] = split(bytes.length);
  const info = await group.allgather(Float32Array.from(isDonor ? [lh, ll, ...digestWords(sha)] : new Array(2 + DIGEST_WORDS).fill(0)));
  const primary = donors[0];
  const want = wordsHex(info[primary].subarray(2));
  const len = join(info[primary][0], info[primary][1]);
  const helpers = donors.filter((r) => wordsHex(info[r].subarray(2)) === want && join(info[r][0], info[r][1]) === len);

  // the helpers send one slice each; everyone else sends nothing
  const t0 = performance.now();
  const k = helpers.indexOf(me);
  const part = k >= 0 ? asFloats(bytes.subarray(...sliceRange(len, k, helpers.length))) : new Float32Array(0);
  const parts = await group.allgather(part);
  let got: Uint8Array | undefined;
  let failed = 0;
  if (!isDonor) {
    got = new Uint8Array(len);
    helpers.forEach((r, i) => {
      const [a, b] = sliceRange(len, i, helpers.length);
      got!.set(new Uint8Array(parts[r].buffer, parts[r].byteOffset, b - a), a);
    });
    if (createHash('sha256').update(got).digest('hex') !== want) failed = 1;
  }
  const verdict = Float32Array.of(failed);
  await group.allreduce(verdict, { op: 'sum' });
  if (verdict[0] > 0)
    return { source: 'checkpoint', reason: `${verdict[0]} rank(s) received a state whose SHA-256 does not match the donor's` };
  if (isDonor || !got) return { source: 'self', step: top, ...applied(appliedIn), ...(isDonor ? { sha256: sha } : {}) };
  return { source: 'peer', step: top, ...applied(appliedIn), bytes: got, donors: helpers, sha256: want, ms: performance.now() - t0 };
}
