/**
 * A reduction whose result does not depend on message arrival: every contribution to a range
 * is received into its own buffer, then all are added in member order (this rank's own
 * values at its own place). Float addition is not associative, so summing in arrival order
 * made a job of 3+ ranks (or 3+ ranks on a node, hierarchically) differ from run to run; with
 * a fixed order a job run twice gives bit-identical weights on the same backend. Costs one
 * buffer per sender and range, and the sum waits for the last message instead of streaming.
 */
import type { Range } from './layout.ts';
import type { OpContext } from './op.ts';

/**
 * data[r] = Σ over `members` (global ranks, ascending) of each member's values of `r`: `me`'s
 * from `data`, the others' received under (`tag`, `chunk`).
 */
export async function recvOrderedSum(
  op: OpContext,
  tag: string,
  chunk: number,
  members: readonly number[],
  me: number,
  data: Float32Array,
  r: Range,
): Promise<void> {
  const len = r.end - r.start;
  const whole: Range = { start: 0, end: len };
  const parts = new Map<number, Float32Array>();
  await Promise.all(
    members
      .filter((m) => m !== me)
      .map(async (m) => {
        const buf = new Float32Array(len);
        parts.set(m, buf);
        await op.recvInto(tag, m, chunk, buf, whole, 'copy');
      }),
  );
  const dst = data.subarray(r.start, r.end);
  const own = dst.slice();
  let first = true;
  for (const m of members) {
    const src = m === me ? own : parts.get(m)!;
    if (first) {
      dst.set(src);
      first = false;
      continue;
    }
    for (let i = 0; i < len; i++) dst[i] += src[i];
  }
}
