/** results.csv as train.py writes it: 20-wide right-aligned columns, values as Python's %.5g. */
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export const RESULTS_COLUMNS = [
  'epoch',
  'train/box_loss',
  'train/obj_loss',
  'train/cls_loss',
  'metrics/precision',
  'metrics/recall',
  'metrics/mAP_0.5',
  'metrics/mAP_0.5:0.95',
  'val/box_loss',
  'val/obj_loss',
  'val/cls_loss',
  'x/lr0',
  'x/lr1',
  'x/lr2',
] as const;

/** Python's `'%.{p}g' % x`. */
export function formatG(x: number, p = 5): string {
  if (Number.isNaN(x)) return 'nan';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  if (x === 0) return Object.is(x, -0) ? '-0' : '0';
  const [mant, expStr] = x.toExponential(p - 1).split('e');
  const exp = Number(expStr);
  if (exp < -4 || exp >= p) {
    const m = mant.includes('.') ? mant.replace(/\.?0+$/, '') : mant;
    return `${m}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  }
  const s = x.toFixed(Math.max(0, p - 1 - exp));
  return s.includes('.') ? s.replace(/\.?0+$/, '') : s;
}

/** The header line (no newline). */
export function resultsHeader(): string {
  return RESULTS_COLUMNS.map((c) => c.padStart(20)).join(',');
}

/** One row (no newline); `values` in column order, epoch first. */
export function resultsRow(values: readonly number[]): string {
  if (values.length !== RESULTS_COLUMNS.length)
    throw new RangeError(`results row needs ${RESULTS_COLUMNS.length} values, got ${values.length}`);
  return values.map((v) => formatG(v).padStart(20)).join(',');
}

/** Appends a row to `file`, writing the header first when the file is new. */
export function appendResults(file: string, values: readonly number[]): void {
  mkdirSync(dirname(file), { recursive: true });
  const head = existsSync(file) ? '' : `${resultsHeader()}\n`;
  appendFileSync(file, `${head}${resultsRow(values)}\n`);
}

/** Drops the rows of epochs >= `epoch` (a resumed run writes them again); a missing file stays missing. */
export function trimResults(file: string, epoch: number): void {
  if (!existsSync(file)) return;
  const [head, ...rows] = readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.length > 0);
  const kept = rows.filter((r) => Number(r.split(',')[0]) < epoch);
  writeFileSync(file, `${[head, ...kept].join('\n')}\n`);
}
