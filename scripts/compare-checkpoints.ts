// Compares two checkpoints tensor by tensor, bit for bit, and their meta (paths aside):
//   node --import tsx scripts/compare-checkpoints.ts A.ckpt B.ckpt
// Exit 0 when every tensor is bit-identical; prints what differs otherwise. Used to check that
// a change to the training loop leaves a run's numbers alone (docs/gpu.md, "The step on the
// device": the same `flotilla train` command before and after, last.ckpt compared).
import { loadCheckpoint } from '../worker/engine/checkpoint/index.ts';

const [pa, pb] = process.argv.slice(2);
if (!pa || !pb) {
  console.error('usage: compare-checkpoints A.ckpt B.ckpt');
  process.exit(2);
}
const a = loadCheckpoint(pa),
  b = loadCheckpoint(pb);
const names = new Set([...a.tensors.keys(), ...b.tensors.keys()]);
let differing = 0;
for (const k of names) {
  const x = a.tensors.get(k),
    y = b.tensors.get(k);
  const same =
    x !== undefined &&
    y !== undefined &&
    x.dtype === y.dtype &&
    Buffer.from(x.data.buffer, x.data.byteOffset, x.data.byteLength).equals(
      Buffer.from(y.data.buffer, y.data.byteOffset, y.data.byteLength),
    );
  if (!same && differing++ < 20) console.log(`differs: ${k}${x ? '' : ' (only in B)'}${y ? '' : ' (only in A)'}`);
}
const paths = new Set(['data', 'saveDir', 'weights', 'resumedFrom']);
const metaDiff = Object.keys({ ...a.meta, ...b.meta }).filter(
  (k) => !paths.has(k) && JSON.stringify(a.meta[k]) !== JSON.stringify(b.meta[k]),
);
for (const k of metaDiff) console.log(`meta differs: ${k}`);
console.log(
  `${names.size} tensors, ${differing} differing; meta ${metaDiff.length ? `differs in ${metaDiff.join(', ')}` : 'equal (paths aside)'}`,
);
process.exit(differing || metaDiff.length ? 1 : 0);
