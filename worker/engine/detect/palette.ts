/**
 * The per-class colours of drawn boxes: Ultralytics' 20-colour palette, class i → colour i mod 20.
 * One function so every picture of the project (detect, run plots) can share it.
 */
export const PALETTE: readonly string[] = [
  'FF3838', 'FF9D97', 'FF701F', 'FFB21D', 'CFD231', '48F90A', '92CC17', '3DDB86', '1A9334', '00D4BB',
  '2C99A8', '00C2FF', '344593', '6473FF', '0018EC', '8438FF', '520085', 'CB38FF', 'FF95C8', 'FF37C7',
];

/** The colour of class `cls` as '#RRGGBB'. */
export function classColor(cls: number): string {
  const n = PALETTE.length;
  return `#${PALETTE[((Math.trunc(cls) % n) + n) % n]}`;
}
