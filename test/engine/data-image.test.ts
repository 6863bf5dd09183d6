import t from 'tap';
import { join } from 'node:path';
import { writeFile } from 'node:fs/promises';
import sharp from 'sharp';
import { ImageDecodeError, decodeImage, readImageSize, resizeBilinear } from '../../worker/engine/data/index.ts';

t.test('decodeImage: grey, RGBA and 16-bit files come out as 8-bit RGB at the training size', async (t) => {
  const dir = t.testdir({});
  const g = new Uint8Array(10 * 6).fill(77);
  await sharp(g, { raw: { width: 10, height: 6, channels: 1 } })
    .jpeg()
    .toFile(join(dir, 'grey.jpg'));
  await sharp(new Uint8Array(10 * 6 * 4).fill(255), { raw: { width: 10, height: 6, channels: 4 } })
    .png()
    .toFile(join(dir, 'rgba.png'));
  await sharp(new Uint8Array(10 * 6 * 3).fill(150), { raw: { width: 10, height: 6, channels: 3 } })
    .toColourspace('rgb16')
    .png()
    .toFile(join(dir, 'rgb16.png'));
  for (const [f, v] of [
    ['grey.jpg', 77],
    ['rgba.png', 255],
    ['rgb16.png', 150],
  ] as const) {
    const im = await decodeImage(join(dir, f), 20);
    t.same([im.width, im.height, im.origWidth, im.origHeight], [20, 12, 10, 6], `${f}: long side 20`);
    t.equal(im.data.length, 20 * 12 * 3, `${f}: 3 channels`);
    t.ok(
      im.data.every((x) => Math.abs(x - v) <= 2),
      `${f}: values kept`,
    );
  }
  const native = await decodeImage(join(dir, 'grey.jpg'));
  t.same([native.width, native.height], [10, 6], 'maxSide 0 keeps the size');
});

t.test('decodeImage applies EXIF orientation; readImageSize agrees', async (t) => {
  const dir = t.testdir({});
  const px = new Uint8Array(10 * 6 * 3).fill(40);
  px.set([250, 0, 0], 0); // top-left red as stored
  await sharp(px, { raw: { width: 10, height: 6, channels: 3 } })
    .png()
    .withMetadata({ orientation: 6 })
    .toFile(join(dir, 'rot.png'));
  t.same(await readImageSize(join(dir, 'rot.png')), { width: 6, height: 10 });
  const im = await decodeImage(join(dir, 'rot.png'));
  t.same([im.width, im.height], [6, 10], 'rotated 90° clockwise for display');
  t.ok(im.data[(0 * 6 + 5) * 3] > 200, 'stored top-left lands top-right');
});

t.test('decodeImage names the file it cannot read', async (t) => {
  const dir = t.testdir({});
  await writeFile(join(dir, 'bad.jpg'), 'not an image');
  await t.rejects(decodeImage(join(dir, 'bad.jpg')), { name: 'ImageDecodeError', file: join(dir, 'bad.jpg') });
  await t.rejects(readImageSize(join(dir, 'missing.png')), ImageDecodeError);
});

t.test('resizeBilinear: constant stays constant, a 2x upscale interpolates between pixels', async (t) => {
  const flat = resizeBilinear({ data: new Uint8Array(5 * 4 * 3).fill(99), width: 5, height: 4 }, 13, 7);
  t.ok(flat.data.every((v) => v === 99));
  const ramp = resizeBilinear({ data: Uint8Array.from([0, 0, 0, 100, 100, 100]), width: 2, height: 1 }, 4, 1);
  // cv2.INTER_LINEAR: x_src = (x + 0.5)/2 - 0.5 → -0.25 (clamped 0), 0.25, 0.75, 1.25 (clamped 1)
  t.same(Array.from(ramp.data.filter((_, i) => i % 3 === 0)), [0, 25, 75, 100]);
});
