/**
 * Target assignment for the YOLOv5 loss, in plain JS (not differentiable).
 *
 * Each normalised target row is matched, per detection level, to every anchor whose
 * width/height ratio passes `anchorT`, and then to its own grid cell plus up to two
 * neighbouring cells: the x-neighbour and the y-neighbour nearest the target centre
 * (a cell only counts as a neighbour when the centre lies more than one cell from that edge).
 * Assignments come out ordered by neighbour slot (own cell, x−1, y−1, x+1, y+1), then anchor,
 * then target row — the order the objectness target relies on for slots hit more than once.
 */

/** One level's assignments; index k runs over the n (target, anchor, cell) matches. */
export interface LevelTargets {
  /** number of assignments */
  readonly n: number;
  /** image index of each assignment */
  readonly b: Int32Array;
  /** anchor index */
  readonly a: Int32Array;
  /** cell row (clamped to [0, ny−1]) */
  readonly gj: Int32Array;
  /** cell column (clamped to [0, nx−1]) */
  readonly gi: Int32Array;
  /** flat slot ((b·na + a)·ny + gj)·nx + gi in a [B, na, ny, nx] grid */
  readonly slot: Int32Array;
  /** n×4 box target [x − gi, y − gj, w, h] in grid units (x, y in (−0.5, 1.5)) */
  readonly tbox: Float32Array;
  /** n×2 anchor [w, h] in grid units */
  readonly anch: Float32Array;
  /** class id */
  readonly tcls: Int32Array;
  /**
   * The distinct slots that receive an objectness target, and for each the assignment index
   * that sets it: the last assignment in the order above (later writes win).
   */
  readonly objSlot: Int32Array;
  readonly objFrom: Int32Array;
  /** number of slots that got more than one assignment */
  readonly duplicateSlots: number;
}

/** Grid of one level. */
export interface LevelGrid {
  readonly batch: number;
  readonly ny: number;
  readonly nx: number;
}

/** Half-cell offsets: own cell, then x−1, y−1, x+1, y+1 (g = 0.5). */
const OFFSETS: ReadonlyArray<readonly [number, number]> = [
  [0, 0],
  [0.5, 0],
  [0, 0.5],
  [-0.5, 0],
  [0, -0.5],
];
const G = 0.5;

const f32 = Math.fround;

/**
 * Builds the per-level assignments.
 * @param targets nt×6 rows [img, cls, xc, yc, w, h], coordinates normalised to [0, 1]
 * @param anchors [nl][na][2] anchor sizes in grid units of each level
 * @param grids the [batch, ny, nx] of each level's prediction
 * @param anchorT anchor ratio threshold (hyp.anchor_t, default 4)
 */
export function buildTargets(
  targets: Float32Array,
  anchors: ReadonlyArray<ReadonlyArray<ReadonlyArray<number>>>,
  grids: ReadonlyArray<LevelGrid>,
  anchorT: number,
): LevelTargets[] {
  if (targets.length % 6 !== 0) throw new Error(`targets length ${targets.length} is not a multiple of 6`);
  const nt = targets.length / 6;
  return grids.map((grid, level) => buildLevel(targets, nt, anchors[level], grid, anchorT));
}

function buildLevel(
  targets: Float32Array,
  nt: number,
  anchors: ReadonlyArray<ReadonlyArray<number>>,
  grid: LevelGrid,
  anchorT: number,
): LevelTargets {
  const { batch, ny, nx } = grid;
  const na = anchors.length;
  // Scaled targets (float32 arithmetic, as the reference does it) and the anchor filter.
  const gx = new Float64Array(nt),
    gy = new Float64Array(nt),
    gw = new Float64Array(nt),
    gh = new Float64Array(nt);
  for (let t = 0; t < nt; t++) {
    gx[t] = f32(targets[t * 6 + 2] * nx);
    gy[t] = f32(targets[t * 6 + 3] * ny);
    gw[t] = f32(targets[t * 6 + 4] * nx);
    gh[t] = f32(targets[t * 6 + 5] * ny);
  }
  const pass = new Uint8Array(na * nt);
  for (let a = 0; a < na; a++) {
    const [aw, ah] = anchors[a];
    for (let t = 0; t < nt; t++) {
      const rw = f32(gw[t] / aw),
        rh = f32(gh[t] / ah);
      const worst = Math.max(rw, f32(1 / rw), rh, f32(1 / rh));
      pass[a * nt + t] = worst < anchorT ? 1 : 0;
    }
  }
  // Which neighbour offsets each target uses (own cell always).
  const use = new Uint8Array(5 * nt);
  for (let t = 0; t < nt; t++) {
    const x = gx[t],
      y = gy[t],
      xi = f32(nx - x),
      yi = f32(ny - y);
    use[t] = 1;
    use[nt + t] = x % 1 < G && x > 1 ? 1 : 0;
    use[2 * nt + t] = y % 1 < G && y > 1 ? 1 : 0;
    use[3 * nt + t] = xi % 1 < G && xi > 1 ? 1 : 0;
    use[4 * nt + t] = yi % 1 < G && yi > 1 ? 1 : 0;
  }
  let n = 0;
  for (let o = 0; o < 5; o++) for (let a = 0; a < na; a++) for (let t = 0; t < nt; t++) n += pass[a * nt + t] & use[o * nt + t];

  const b = new Int32Array(n),
    aa = new Int32Array(n),
    gj = new Int32Array(n),
    gi = new Int32Array(n);
  const slot = new Int32Array(n),
    tcls = new Int32Array(n);
  const tbox = new Float32Array(n * 4),
    anch = new Float32Array(n * 2);
  let k = 0;
  for (let o = 0; o < 5; o++) {
    const [ox, oy] = OFFSETS[o];
    for (let a = 0; a < na; a++) {
      for (let t = 0; t < nt; t++) {
        if (!(pass[a * nt + t] & use[o * nt + t])) continue;
        const img = Math.trunc(targets[t * 6]);
        if (img < 0 || img >= batch) throw new Error(`target ${t} has image index ${img} outside batch ${batch}`);
        const i = clamp(Math.trunc(f32(gx[t] - ox)), 0, nx - 1);
        const j = clamp(Math.trunc(f32(gy[t] - oy)), 0, ny - 1);
        b[k] = img;
        aa[k] = a;
        gi[k] = i;
        gj[k] = j;
        slot[k] = ((img * na + a) * ny + j) * nx + i;
        tcls[k] = Math.trunc(targets[t * 6 + 1]);
        tbox[k * 4] = f32(gx[t] - i);
        tbox[k * 4 + 1] = f32(gy[t] - j);
        tbox[k * 4 + 2] = gw[t];
        tbox[k * 4 + 3] = gh[t];
        anch[k * 2] = anchors[a][0];
        anch[k * 2 + 1] = anchors[a][1];
        k++;
      }
    }
  }
  // Later assignments overwrite earlier ones in the objectness target.
  const last = new Map<number, number>();
  const hits = new Map<number, number>();
  for (let q = 0; q < n; q++) {
    last.set(slot[q], q);
    hits.set(slot[q], (hits.get(slot[q]) ?? 0) + 1);
  }
  const objSlot = new Int32Array(last.size),
    objFrom = new Int32Array(last.size);
  let u = 0,
    duplicateSlots = 0;
  for (const [s, q] of last) {
    objSlot[u] = s;
    objFrom[u] = q;
    u++;
    if ((hits.get(s) ?? 0) > 1) duplicateSlots++;
  }
  return { n, b, a: aa, gj, gi, slot, tbox, anch, tcls, objSlot, objFrom, duplicateSlots };
}

function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}
