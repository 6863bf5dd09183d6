/** Image decoding with sharp into packed RGB bytes, resized so the long side is the training size. */
import sharp from 'sharp';
import { EngineError } from '../errors.ts';

/** A packed HWC RGB image, 8 bits a channel. */
export interface RgbImage {
  data: Uint8Array;
  width: number;
  height: number;
}

/** A decoded image resized for training, with the size of the file it came from. */
export interface LoadedImage extends RgbImage {
  origWidth: number;
  origHeight: number;
}

/** An image that cannot be decoded; `file` names it. */
export class ImageDecodeError extends EngineError {
  override name = 'ImageDecodeError';
  readonly retryable = false;
  constructor(
    readonly file: string,
    cause: unknown,
  ) {
    super(`${file}: cannot decode image: ${(cause as Error)?.message ?? String(cause)}`, { cause });
  }
}

/**
 * Decodes a JPEG/PNG/... file (EXIF orientation applied, alpha dropped, grey expanded to RGB) and
 * resizes it so that its long side is `maxSide` (the reference's load_image: size ceil(w0·r) × ceil(h0·r)).
 * `file` may also be the encoded bytes themselves.
 * @param maxSide target long side; 0 keeps the original size
 */
export async function decodeImage(file: string | Buffer, maxSide = 0): Promise<LoadedImage> {
  try {
    const meta = await sharp(file).metadata();
    let w0 = meta.width ?? 0,
      h0 = meta.height ?? 0;
    if ((meta.orientation ?? 1) >= 5) [w0, h0] = [h0, w0];
    if (!w0 || !h0) throw new Error('image has no size');
    let p = sharp(file).rotate().removeAlpha().toColourspace('srgb');
    const r = maxSide > 0 ? maxSide / Math.max(w0, h0) : 1;
    if (r !== 1) {
      p = p.resize(Math.max(1, Math.ceil(w0 * r)), Math.max(1, Math.ceil(h0 * r)), {
        fit: 'fill',
        kernel: 'linear',
        fastShrinkOnLoad: false,
      });
    }
    const { data, info } = await p.raw().toBuffer({ resolveWithObject: true });
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.length);
    return {
      data: info.channels === 3 ? bytes : toRgb(bytes, info.width * info.height, info.channels),
      width: info.width,
      height: info.height,
      origWidth: w0,
      origHeight: h0,
    };
  } catch (e) {
    throw new ImageDecodeError(typeof file === 'string' ? file : 'image', e);
  }
}

function toRgb(src: Uint8Array, n: number, channels: number): Uint8Array {
  const out = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    const s = i * channels;
    out[i * 3] = src[s];
    out[i * 3 + 1] = src[channels >= 3 ? s + 1 : s];
    out[i * 3 + 2] = src[channels >= 3 ? s + 2 : s];
  }
  return out;
}

/** Encodes packed RGB as PNG or JPEG (quality 90), deterministically. */
export async function encodeImage(img: RgbImage, format: 'png' | 'jpg'): Promise<Buffer> {
  const s = sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } });
  return format === 'png' ? s.png({ compressionLevel: 6 }).toBuffer() : s.jpeg({ quality: 90, mozjpeg: false }).toBuffer();
}

/** The size of an image file after EXIF orientation, read from its header. */
export async function readImageSize(file: string): Promise<{ width: number; height: number }> {
  try {
    const meta = await sharp(file).metadata();
    const w = meta.width ?? 0,
      h = meta.height ?? 0;
    return (meta.orientation ?? 1) >= 5 ? { width: h, height: w } : { width: w, height: h };
  } catch (e) {
    throw new ImageDecodeError(file, e);
  }
}
