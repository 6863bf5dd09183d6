// Fused activation names of tfjs mapped to the addon's numbering (src/common.h, enum Act).
const CODES: Record<string, number> = { linear: 0, relu: 1, relu6: 2, leakyrelu: 3, sigmoid: 4, elu: 5 };

/** The addon's code for a fused activation, or null when only the JS kernel has it (prelu). */
export function activationCode(name: unknown): number | null {
  if (name === undefined || name === null) return 0;
  const code = typeof name === 'string' ? CODES[name] : undefined;
  return code ?? null;
}
