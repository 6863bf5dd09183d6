/**
 * A minimal ZIP reader for PyTorch's `torch.save` files: the central directory (ZIP64 included),
 * stored and deflated entries. Reads from one in-memory buffer; every offset is bounds-checked.
 */
import { inflateRawSync } from 'node:zlib';
import { EngineError } from '../errors.ts';

export class ZipFormatError extends EngineError {
  override name = 'ZipFormatError';
  readonly retryable = false;
}

/** One entry of the central directory. */
export interface ZipEntry {
  readonly name: string;
  readonly method: number;
  readonly compressedSize: number;
  readonly size: number;
  readonly localOffset: number;
}

const EOCD = 0x06054b50,
  EOCD64 = 0x06064b50,
  EOCD64_LOC = 0x07064b50,
  CDIR = 0x02014b50,
  LOCAL = 0x04034b50;

/** True when `bytes` start like a ZIP archive (a local file header). */
export function isZip(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04;
}

export class ZipReader {
  readonly entries = new Map<string, ZipEntry>();
  private readonly dv: DataView;

  constructor(private readonly bytes: Uint8Array) {
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const n = bytes.length;
    // the end-of-central-directory record: 22 bytes plus a comment of at most 65535
    let eocd = -1;
    for (let p = n - 22; p >= Math.max(0, n - 22 - 65535); p--)
      if (this.u32(p) === EOCD) {
        eocd = p;
        break;
      }
    if (eocd < 0) throw new ZipFormatError('not a zip archive (no end of central directory)');
    let count = this.u16(eocd + 10),
      cdSize = this.u32(eocd + 12),
      cdOffset = this.u32(eocd + 16);
    if (count === 0xffff || cdOffset === 0xffffffff || cdSize === 0xffffffff) {
      const loc = eocd - 20;
      if (loc < 0 || this.u32(loc) !== EOCD64_LOC) throw new ZipFormatError('ZIP64 locator missing');
      const e64 = this.u64(loc + 8);
      if (this.u32(e64) !== EOCD64) throw new ZipFormatError('ZIP64 end of central directory missing');
      count = this.u64(e64 + 32);
      cdSize = this.u64(e64 + 40);
      cdOffset = this.u64(e64 + 48);
    }
    if (cdOffset + cdSize > n) throw new ZipFormatError('central directory lies outside the file');
    let p = cdOffset;
    for (let i = 0; i < count; i++) {
      if (this.u32(p) !== CDIR) throw new ZipFormatError(`bad central directory entry ${i}`);
      const method = this.u16(p + 10);
      let csize = this.u32(p + 20),
        size = this.u32(p + 24);
      const nameLen = this.u16(p + 28),
        extraLen = this.u16(p + 30),
        commentLen = this.u16(p + 32);
      let local = this.u32(p + 42);
      const name = new TextDecoder().decode(this.slice(p + 46, nameLen));
      // ZIP64 extended information: the 64-bit values of the fields set to 0xffffffff, in order
      let e = p + 46 + nameLen;
      const eEnd = e + extraLen;
      while (e + 4 <= eEnd) {
        const id = this.u16(e),
          len = this.u16(e + 2);
        if (id === 0x0001) {
          let q = e + 4;
          if (size === 0xffffffff) {
            size = this.u64(q);
            q += 8;
          }
          if (csize === 0xffffffff) {
            csize = this.u64(q);
            q += 8;
          }
          if (local === 0xffffffff) {
            local = this.u64(q);
            q += 8;
          }
        }
        e += 4 + len;
      }
      this.entries.set(name, { name, method, compressedSize: csize, size, localOffset: local });
      p += 46 + nameLen + extraLen + commentLen;
    }
  }

  /** The bytes of entry `name` (a view for stored entries, inflated for deflated ones). */
  read(name: string): Uint8Array {
    const e = this.entries.get(name);
    if (!e) throw new ZipFormatError(`no entry ${name} in the archive`);
    if (this.u32(e.localOffset) !== LOCAL) throw new ZipFormatError(`${name}: bad local header`);
    const start = e.localOffset + 30 + this.u16(e.localOffset + 26) + this.u16(e.localOffset + 28);
    const data = this.slice(start, e.compressedSize);
    if (e.method === 0) {
      if (e.size !== e.compressedSize) throw new ZipFormatError(`${name}: stored entry with differing sizes`);
      return data;
    }
    if (e.method === 8) {
      const out = inflateRawSync(data, { maxOutputLength: e.size });
      if (out.length !== e.size) throw new ZipFormatError(`${name}: inflated to ${out.length} bytes, expected ${e.size}`);
      return new Uint8Array(out.buffer, out.byteOffset, out.length);
    }
    throw new ZipFormatError(`${name}: compression method ${e.method} is not supported`);
  }

  private check(p: number, len: number): void {
    if (p < 0 || len < 0 || p + len > this.bytes.length)
      throw new ZipFormatError(`read of ${len} bytes at ${p} past the end of the file (${this.bytes.length} bytes)`);
  }
  private slice(p: number, len: number): Uint8Array {
    this.check(p, len);
    return this.bytes.subarray(p, p + len);
  }
  private u16(p: number): number {
    this.check(p, 2);
    return this.dv.getUint16(p, true);
  }
  private u32(p: number): number {
    this.check(p, 4);
    return this.dv.getUint32(p, true);
  }
  private u64(p: number): number {
    this.check(p, 8);
    const v = this.dv.getBigUint64(p, true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new ZipFormatError('64-bit field too large');
    return Number(v);
  }
}
