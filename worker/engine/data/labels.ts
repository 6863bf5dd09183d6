/**
 * Strict parser for YOLO label files: one object a line, `cls xc yc w h` normalised to [0, 1],
 * or a polygon `cls x1 y1 x2 y2 x3 y3 ...` (converted to its bounding box, as the reference does).
 * A malformed line is an error that names the file and the line.
 */
import { EngineError } from '../errors.ts';

/** A malformed label file: `file` and 1-based `line` say where. */
export class LabelFormatError extends EngineError {
  override name = 'LabelFormatError';
  readonly retryable = false;
  constructor(
    readonly file: string,
    readonly line: number,
    readonly reason: string,
  ) {
    super(`${file}:${line}: ${reason}`);
  }
}

/** Labels of one image: `n` rows of [cls, xc, yc, w, h] (normalised), plus dropped duplicates. */
export interface ParsedLabels {
  labels: Float32Array;
  duplicates: number;
}

const EPS = 1e-6; // tolerance for coordinates written as 1.0000001 by float printing

/**
 * Parses the text of a label file.
 * @param text the file's content
 * @param file the path, for error messages
 * @param nc the number of classes, when known: a class id >= nc is an error
 */
export function parseLabels(text: string, file: string, nc?: number): ParsedLabels {
  const rows: number[][] = [];
  const seen = new Set<string>();
  let duplicates = 0;
  const lines = text.split(/\r?\n/);
  for (let li = 0; li < lines.length; li++) {
    const raw = lines[li].trim();
    if (raw === '') continue;
    const parts = raw.split(/\s+/);
    const fail = (reason: string): never => {
      throw new LabelFormatError(file, li + 1, `${reason} in '${raw}'`);
    };
    const nums = parts.map((p) => {
      const v = Number(p);
      if (!Number.isFinite(v) || p === '') fail(`'${p}' is not a number`);
      return v;
    });
    const cls = nums[0];
    if (!Number.isInteger(cls) || cls < 0) fail(`class '${parts[0]}' is not a non-negative integer`);
    if (nc !== undefined && cls >= nc) fail(`class ${cls} exceeds nc=${nc} (classes are 0..${nc - 1})`);
    let xc: number, yc: number, w: number, h: number;
    if (nums.length === 5) {
      [, xc, yc, w, h] = nums;
      for (let k = 1; k < 5; k++) {
        if (nums[k] < 0 || nums[k] > 1 + EPS) fail(`value ${nums[k]} outside [0, 1] (labels must be normalised xc yc w h)`);
      }
      if (w <= 0 || h <= 0) fail('box with zero width or height');
    } else if (nums.length >= 7 && nums.length % 2 === 1) {
      let x1 = Infinity,
        y1 = Infinity,
        x2 = -Infinity,
        y2 = -Infinity;
      for (let k = 1; k < nums.length; k += 2) {
        const x = nums[k],
          y = nums[k + 1];
        if (x < 0 || x > 1 + EPS || y < 0 || y > 1 + EPS) fail(`polygon point (${x}, ${y}) outside [0, 1]`);
        if (x < x1) x1 = x;
        if (x > x2) x2 = x;
        if (y < y1) y1 = y;
        if (y > y2) y2 = y;
      }
      xc = (x1 + x2) / 2;
      yc = (y1 + y2) / 2;
      w = x2 - x1;
      h = y2 - y1;
      if (w <= 0 || h <= 0) fail('degenerate polygon');
    } else {
      return fail(`expected 5 columns 'cls xc yc w h' (or a polygon), got ${nums.length}`);
    }
    const key = `${cls} ${xc} ${yc} ${w} ${h}`;
    if (seen.has(key)) {
      duplicates++;
      continue;
    }
    seen.add(key);
    rows.push([cls, Math.min(xc, 1), Math.min(yc, 1), Math.min(w, 1), Math.min(h, 1)]);
  }
  const labels = new Float32Array(rows.length * 5);
  rows.forEach((r, i) => labels.set(r, i * 5));
  return { labels, duplicates };
}
