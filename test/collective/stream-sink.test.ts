import t from 'tap';
import { streamSink } from '../../worker/collective/stream-sink.ts';
import { encodeHalf } from '../../worker/collective/index.ts';

/** Feeds `bytes` to a sink in pieces cut at random points, each piece at a random alignment. */
function feed(bytes: Uint8Array, write: (b: Uint8Array) => void, rand: () => number): void {
  let i = 0;
  while (i < bytes.length) {
    const k = Math.min(bytes.length - i, 1 + Math.floor(rand() * 700));
    const pad = Math.floor(rand() * 4);
    const holder = new Uint8Array(k + pad);
    holder.set(bytes.subarray(i, i + k), pad);
    write(holder.subarray(pad));
    i += k;
  }
}

function lcg(seed: number): () => number {
  let s = seed;
  return () => (s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
}

t.test('adds and copies float32 payloads split at any byte and alignment', async (t) => {
  const rand = lcg(7);
  for (const len of [1, 2, 3, 17, 1000, 4099]) {
    const src = Float32Array.from({ length: len }, (_, i) => (i % 13) - 6.5);
    const base = Float32Array.from({ length: len }, (_, i) => i * 0.25);
    for (const mode of ['add', 'copy'] as const) {
      const dst = base.slice();
      let ended = 0;
      const sink = streamSink(
        { dst, mode, fp16: false },
        () => {
          ended++;
        },
        () => true,
      );
      feed(new Uint8Array(src.buffer), (b) => sink.write(b), rand);
      sink.end();
      let bad = 0;
      for (let i = 0; i < len; i++) if (dst[i] !== (mode === 'add' ? base[i] + src[i] : src[i])) bad++;
      t.equal(bad, 0, `${mode} ${len}`);
      t.equal(ended, 1);
    }
  }
});

t.test('decodes float16 payloads split at any byte', async (t) => {
  const rand = lcg(11);
  const len = 2501;
  const src = Float32Array.from({ length: len }, (_, i) => (i % 50) - 25 + 0.5);
  const half = new Uint16Array(len);
  encodeHalf(src, half);
  const dst = new Float32Array(len).fill(1);
  const sink = streamSink(
    { dst, mode: 'add', fp16: true },
    () => {},
    () => true,
  );
  feed(new Uint8Array(half.buffer), (b) => sink.write(b), rand);
  sink.end();
  let bad = 0;
  for (let i = 0; i < len; i++) if (dst[i] !== src[i] + 1) bad++; // these values are exact in fp16
  t.equal(bad, 0);
});

t.test('a sink of an ended operation leaves the destination alone', async (t) => {
  const dst = new Float32Array(4);
  let live = true;
  let ended = 0;
  const sink = streamSink(
    { dst, mode: 'copy', fp16: false },
    () => {
      ended++;
    },
    () => live,
  );
  sink.write(new Uint8Array(new Float32Array([1, 2]).buffer));
  live = false;
  sink.write(new Uint8Array(new Float32Array([3, 4]).buffer));
  sink.end();
  t.same(Array.from(dst), [1, 2, 0, 0]);
  t.equal(ended, 0, 'no completion for an ended operation');
});
