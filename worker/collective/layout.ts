/**
 * How a buffer is cut: into `parts` near-equal segments (one per rank of a ring or per shard
 * owner), each cut into chunks of at most `chunkElems` elements. Every rank computes the same
 * cut from (length, parts, chunkElems), so no sizes travel on the wire.
 */
export interface Range {
  readonly start: number;
  readonly end: number;
}

/** Segment i of `parts` near-equal segments of [0, length): the first length % parts get one more. */
export function segment(length: number, parts: number, i: number): Range {
  const base = Math.floor(length / parts);
  const extra = length % parts;
  const start = i * base + Math.min(i, extra);
  return { start, end: start + base + (i < extra ? 1 : 0) };
}

/** Number of chunks that every segment is cut into (the longest segment decides). */
export function chunksPerSegment(length: number, parts: number, chunkElems: number): number {
  const longest = Math.ceil(length / parts);
  return Math.max(1, Math.ceil(longest / chunkElems));
}

/** Chunk j of `count` near-equal chunks of a range (possibly empty when the range is short). */
export function chunk(r: Range, count: number, j: number): Range {
  const s = segment(r.end - r.start, count, j);
  return { start: r.start + s.start, end: r.start + s.end };
}

/** Chunks of at most `chunkElems` covering [0, length) (at least one, possibly empty). */
export function chunksOf(length: number, chunkElems: number): Range[] {
  const n = Math.max(1, Math.ceil(length / chunkElems));
  const out: Range[] = [];
  for (let j = 0; j < n; j++) out.push(chunk({ start: 0, end: length }, n, j));
  return out;
}
