/**
 * Box conversions on label rows [cls, a, b, c, d] (stride 5) and the reference's box_candidates.
 * Pixel boxes are [cls, x1, y1, x2, y2]; normalised ones [cls, xc, yc, w, h].
 */

/** Normalised xywh rows → pixel xyxy rows on an image of `w × h` drawn at offset (padX, padY). */
export function xywhnToXyxy(labels: Float32Array, w: number, h: number, padX = 0, padY = 0): Float32Array {
  const out = new Float32Array(labels.length);
  for (let i = 0; i < labels.length; i += 5) {
    const xc = labels[i + 1],
      yc = labels[i + 2],
      bw = labels[i + 3],
      bh = labels[i + 4];
    out[i] = labels[i];
    out[i + 1] = w * (xc - bw / 2) + padX;
    out[i + 2] = h * (yc - bh / 2) + padY;
    out[i + 3] = w * (xc + bw / 2) + padX;
    out[i + 4] = h * (yc + bh / 2) + padY;
  }
  return out;
}

/**
 * Pixel xyxy rows → normalised xywh rows, clipping boxes to the image first (the reference's
 * xyxy2xywhn with clip=True, eps=1e-3).
 */
export function xyxyToXywhn(labels: Float32Array, w: number, h: number, eps = 1e-3): Float32Array {
  const out = new Float32Array(labels.length);
  for (let i = 0; i < labels.length; i += 5) {
    const x1 = clamp(labels[i + 1], 0, w - eps),
      y1 = clamp(labels[i + 2], 0, h - eps);
    const x2 = clamp(labels[i + 3], 0, w - eps),
      y2 = clamp(labels[i + 4], 0, h - eps);
    out[i] = labels[i];
    out[i + 1] = (x1 + x2) / 2 / w;
    out[i + 2] = (y1 + y2) / 2 / h;
    out[i + 3] = (x2 - x1) / w;
    out[i + 4] = (y2 - y1) / h;
  }
  return out;
}

/** Clips pixel xyxy rows to [0, w] × [0, h] in place. */
export function clipXyxy(labels: Float32Array, w: number, h: number): void {
  for (let i = 0; i < labels.length; i += 5) {
    labels[i + 1] = clamp(labels[i + 1], 0, w);
    labels[i + 2] = clamp(labels[i + 2], 0, h);
    labels[i + 3] = clamp(labels[i + 3], 0, w);
    labels[i + 4] = clamp(labels[i + 4], 0, h);
  }
}

/** Options of `boxCandidates`, defaults as the reference. */
export interface BoxCandidateOptions {
  /** minimum width and height in pixels (default 2) */
  whThr?: number;
  /** maximum aspect ratio (default 100) */
  arThr?: number;
  /** minimum area kept, as a fraction of the area before augmentation (default 0.1) */
  areaThr?: number;
}

/**
 * Whether an augmented box survives: wider and taller than `whThr`, aspect ratio below `arThr`, and
 * keeping more than `areaThr` of its (scaled) original area.
 * @param w1 width before (already multiplied by the augmentation's scale), @param h1 height before
 */
export function boxCandidate(w1: number, h1: number, w2: number, h2: number, o: BoxCandidateOptions = {}): boolean {
  const whThr = o.whThr ?? 2,
    arThr = o.arThr ?? 100,
    areaThr = o.areaThr ?? 0.1,
    eps = 1e-16;
  const ar = Math.max(w2 / (h2 + eps), h2 / (w2 + eps));
  return w2 > whThr && h2 > whThr && (w2 * h2) / (w1 * h1 + eps) > areaThr && ar < arThr;
}

/** Concatenates label arrays. */
export function concatLabels(parts: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}
