/**
 * The fixed class palette: class i has the same colour in every picture (boxes, curves, label
 * histograms) and in `detect` output. Twenty colours, repeating from class 20 on (the colours of
 * the reference's `Colors`, so a YOLOv5 user sees the classes in the colours they know).
 */
const HEX = [
  'FF3838',
  'FF9D97',
  'FF701F',
  'FFB21D',
  'CFD231',
  '48F90A',
  '92CC17',
  '3DDB86',
  '1A9334',
  '00D4BB',
  '2C99A8',
  '00C2FF',
  '344593',
  '6473FF',
  '0018EC',
  '8438FF',
  '520085',
  'CB38FF',
  'FF95C8',
  'FF37C7',
] as const;

export const PALETTE_SIZE = HEX.length;

/** `#rrggbb` of class `cls`. */
export function classHex(cls: number): string {
  return `#${HEX[((Math.trunc(cls) % HEX.length) + HEX.length) % HEX.length]}`;
}

/** [r, g, b] (0–255) of class `cls`. */
export function classRgb(cls: number): [number, number, number] {
  const h = classHex(cls);
  return [parseInt(h.slice(1, 3), 16), parseInt(h.slice(3, 5), 16), parseInt(h.slice(5, 7), 16)];
}

/** Black or white, whichever reads better on class `cls`'s colour (for label text). */
export function textOn(cls: number): string {
  const [r, g, b] = classRgb(cls);
  return 0.299 * r + 0.587 * g + 0.114 * b > 150 ? '#000000' : '#ffffff';
}
