/**
 * ASHA early stopping (asynchronous successive halving, as Ray Tune's ASHA scheduler stops
 * trials): rungs at `grace * rf^k` epochs completed (k = 0, 1, … while below the trial's
 * epochs). When a trial reaches a rung its fitness there is recorded; it goes on only if that
 * fitness is at least the (1 - 1/rf) quantile of every fitness recorded at that rung so far
 * (itself included), else it is stopped and its slot goes to the next trial at once. The first
 * trial at a rung always goes on. Pure.
 */

/** The rung epochs (epochs completed) of a trial of `epochs` epochs. */
export function rungEpochs(grace: number, rf: number, epochs: number): number[] {
  const out: number[] = [];
  for (let r = grace; r < epochs; r *= rf) out.push(r);
  return out;
}

/** numpy.percentile(values, q) with linear interpolation. */
export function percentile(values: readonly number[], q: number): number {
  const v = [...values].sort((a, b) => a - b);
  const pos = (v.length - 1) * (q / 100);
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return v[lo] + (v[hi] - v[lo]) * (pos - lo);
}

/** Whether a trial whose fitness at a rung is `value` stops, given everything recorded there (itself included). */
export function ashaStops(value: number, recorded: readonly number[], rf: number): boolean {
  return value < percentile(recorded, (1 - 1 / rf) * 100);
}
