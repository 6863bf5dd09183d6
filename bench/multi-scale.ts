/**
 * The host cost of --multi-scale's batch resize (worker/engine/train/multi-scale.ts): process CPU
 * per batch of B×S×S to each output size, beside the bytes it makes. Run:
 * `node --import tsx bench/multi-scale.ts [--batch 16] [--img 320]`.
 */
import { resizeNhwc } from '../worker/engine/train/multi-scale.ts';

const arg = (name: string, d: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : d;
};
const B = arg('batch', 16),
  S = arg('img', 320);
const src = new Float32Array(B * S * S * 3).map((_, i) => (i % 255) / 255);
for (const f of [0.5, 1.1, 1.5]) {
  const o = Math.floor((S * f) / 32) * 32;
  resizeNhwc(src, B, S, S, o, o);
  const t0 = process.cpuUsage();
  for (let k = 0; k < 5; k++) resizeNhwc(src, B, S, S, o, o);
  const u = process.cpuUsage(t0);
  const ms = (u.user + u.system) / 5000;
  console.log(`${B}x${S}x${S} -> ${o}x${o}: ${ms.toFixed(1)} ms CPU per batch (${((B * o * o * 3 * 4) / 1e6).toFixed(1)} MB out)`);
}
