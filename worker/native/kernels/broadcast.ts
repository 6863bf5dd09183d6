// Collapses a broadcasting binary op to the fewest dims: adjacent dims merge when both
// operands broadcast (or not) alike; broadcast dims get stride 0.

/** A broadcast binary op in collapsed form, as the addon's `binary` takes it. */
export interface Collapsed {
  shape: number[];
  stridesA: number[];
  stridesB: number[];
}

export function collapseBroadcast(outShape: readonly number[], aShape: readonly number[], bShape: readonly number[]): Collapsed {
  const r = outShape.length;
  const pa = [...Array(r - aShape.length).fill(1), ...aShape] as number[];
  const pb = [...Array(r - bShape.length).fill(1), ...bShape] as number[];
  const dims: { n: number; ba: boolean; bb: boolean }[] = [];
  for (let d = 0; d < r; d++) {
    if (outShape[d] === 1) continue;
    const ba = pa[d] === 1,
      bb = pb[d] === 1;
    const last = dims[dims.length - 1];
    if (last && last.ba === ba && last.bb === bb) last.n *= outShape[d];
    else dims.push({ n: outShape[d], ba, bb });
  }
  if (dims.length === 0) dims.push({ n: 1, ba: false, bb: false });
  const shape = dims.map((d) => d.n);
  const stridesA = new Array<number>(dims.length),
    stridesB = new Array<number>(dims.length);
  let sa = 1,
    sb = 1;
  for (let d = dims.length - 1; d >= 0; d--) {
    stridesA[d] = dims[d].ba ? 0 : sa;
    stridesB[d] = dims[d].bb ? 0 : sb;
    if (!dims[d].ba) sa *= dims[d].n;
    if (!dims[d].bb) sb *= dims[d].n;
  }
  return { shape, stridesA, stridesB };
}
