/**
 * The anchor-fit metric of the reference autoanchor.py: for a label of size (w, h) and an
 * anchor (aw, ah), x = min(w/aw, aw/w, h/ah, ah/h); the label is reachable when its best x
 * over all anchors exceeds 1/thr (the loss's anchor_t rule, thr 4 by default).
 */

/** Sizes as a flat [w0, h0, w1, h1, …] list, in pixels. */
export type Sizes = ArrayLike<number>;

/** x for label `i` of `wh` against anchor `j` of `k`. */
export function ratioMetric(wh: Sizes, i: number, k: Sizes, j: number): number {
  const rw = wh[2 * i] / k[2 * j],
    rh = wh[2 * i + 1] / k[2 * j + 1];
  return Math.min(rw, 1 / rw, rh, 1 / rh);
}

export interface AnchorFit {
  /** best possible recall: the fraction of labels with some anchor past 1/thr */
  bpr: number;
  /** anchors past 1/thr per label, averaged */
  aat: number;
  /** mean of best x (metric_all's "best") and of all x */
  bestMean: number;
  allMean: number;
  /** the mutation fitness: mean of best x where it passes 1/thr, 0 elsewhere */
  fitness: number;
  /** mean x over the (label, anchor) pairs past 1/thr (NaN when none) */
  pastThrMean: number;
}

/** Every statistic of `k` (n anchors) against labels `wh` at threshold `thr` (e.g. 4). */
export function anchorFit(wh: Sizes, k: Sizes, thr: number): AnchorFit {
  const nl = wh.length / 2,
    na = k.length / 2,
    t = 1 / thr;
  let hit = 0,
    past = 0,
    best = 0,
    all = 0,
    fit = 0,
    pastSum = 0;
  for (let i = 0; i < nl; i++) {
    let b = 0;
    for (let j = 0; j < na; j++) {
      const x = ratioMetric(wh, i, k, j);
      all += x;
      if (x > t) {
        past++;
        pastSum += x;
      }
      if (x > b) b = x;
    }
    best += b;
    if (b > t) {
      hit++;
      fit += b;
    }
  }
  const n = Math.max(nl, 1);
  return {
    bpr: hit / n,
    aat: past / n,
    bestMean: best / n,
    allMean: all / Math.max(nl * na, 1),
    fitness: fit / n,
    pastThrMean: pastSum / past,
  };
}
