// `flotilla detect`: letterbox/scale-back by hand, and a run over a folder of synthetic images
// with the PyTorch-written fixture weights: annotated images, YOLO txt, boxes in image pixels.
import t from 'tap';
import sharp from 'sharp';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { modelTestBackend } from './model-backend.ts';
import { classColor, detectRun, imageFiles, labelLine, letterboxAuto, scaleBoxes, SourceError } from '../../worker/engine/detect/index.ts';
import { main } from '../../bin/cli/main.ts';

t.comment(`backend: ${await modelTestBackend()}`);

const WEIGHTS = fileURLToPath(new URL('../fixtures/pt/yolov5n-w0125.pt', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'detect-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

/** A deterministic textured image. */
async function writeImage(file: string, w: number, h: number, seed: number): Promise<void> {
  const d = Buffer.alloc(w * h * 3);
  let s = seed;
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      s = (s * 1103515245 + 12345) & 0x7fffffff;
      const i = (y * w + x) * 3;
      d[i] = (x * 3 + (s & 31)) & 255;
      d[i + 1] = (y * 5) & 255;
      d[i + 2] = ((x + y) * 2) & 255;
    }
  const im = sharp(d, { raw: { width: w, height: h, channels: 3 } });
  await (file.endsWith('.png') ? im.png() : im.jpeg()).toFile(file);
}

const src = join(dir, 'images');
await import('node:fs').then((fs) => fs.mkdirSync(src));
await writeImage(join(src, 'wide.png'), 200, 120, 1);
await writeImage(join(src, 'tall.jpg'), 90, 150, 2);

t.test('letterbox (auto) and scale_boxes: detect.py numbers by hand', async (t) => {
  // 640×480 at --img 320, stride 32: gain 0.5 → 320×240, padded to 320×256 (8 rows top and bottom)
  const im = { data: new Uint8Array(640 * 480 * 3).fill(50), width: 640, height: 480 };
  const inp = letterboxAuto(im, 320, 32);
  t.same([inp.image.width, inp.image.height, inp.gain, inp.padX, inp.padY], [320, 256, 0.5, 0, 8]);
  t.equal(inp.image.data[0], 114, 'padding is grey 114');
  t.equal(inp.image.data[8 * 320 * 3], 50, 'the image starts at row 8');
  const det = Float32Array.from([10, 18, 110, 118, 0.9, 1, -5, 0, 400, 300, 0.5, 0]);
  scaleBoxes(det, inp, 640, 480);
  t.same([...det], [20, 20, 220, 220, Math.fround(0.9), 1, 0, 0, 640, 480, 0.5, 0], 'back to the original pixels, clipped to the image');
  t.equal(
    labelLine({ x1: 20, y1: 20, x2: 220, y2: 220, conf: 0.9, cls: 1 }, 640, 480, true),
    '1 0.1875 0.25 0.3125 0.416667 0.9',
    '%g, xywh normalised',
  );
});

t.test('sources: a file, a folder, a glob; clear errors', async (t) => {
  t.same(imageFiles(src), [join(src, 'tall.jpg'), join(src, 'wide.png')]);
  t.same(imageFiles(join(src, '*.png')), [join(src, 'wide.png')]);
  t.same(imageFiles(join(src, 'wide.png')), [join(src, 'wide.png')]);
  t.throws(() => imageFiles(join(dir, 'nope')), SourceError);
  t.throws(() => imageFiles(join(src, '*.bmp')), /holds no images/);
});

t.test('a run over a folder: annotated images, YOLO txt, boxes in image pixels', async (t) => {
  const r = await detectRun({
    weights: WEIGHTS,
    source: src,
    img: 64,
    confThres: 0.01,
    saveTxt: true,
    saveConf: true,
    project: join(dir, 'runs'),
    name: 'exp',
  });
  t.equal(r.saveDir, join(dir, 'runs', 'exp'));
  t.same(readdirSync(r.saveDir).sort(), ['labels', 'tall.jpg', 'wide.png']);
  for (const im of r.images) {
    const meta = await sharp(im.saved!).metadata();
    t.same([meta.width, meta.height], [im.width, im.height], `${im.file}: annotated image at the original size`);
    t.ok(im.detections.length > 0 && im.detections.length <= 1000, `${im.detections.length} detections`);
    const lines = readFileSync(im.labels!, 'utf8').trimEnd().split('\n');
    t.equal(lines.length, im.detections.length, 'one txt line per detection');
    let ok = true,
      prev = Infinity,
      beyondInput = false;
    for (const [k, line] of lines.entries()) {
      const v = line.split(' ').map(Number);
      const d = im.detections[k];
      ok &&=
        v.length === 6 &&
        Number.isInteger(v[0]) &&
        v[0] >= 0 &&
        v[0] < 80 &&
        v.slice(1, 5).every((x) => x >= 0 && x <= 1) &&
        v[5] >= 0.01 &&
        v[5] <= prev;
      prev = v[5];
      // the txt is the detection normalised by the ORIGINAL image size
      ok &&=
        Math.abs(v[1] * im.width - (d.x1 + d.x2) / 2) < 1e-3 * im.width && Math.abs(v[4] * im.height - (d.y2 - d.y1)) < 1e-3 * im.height;
      ok &&= d.x1 >= 0 && d.y1 >= 0 && d.x2 <= im.width && d.y2 <= im.height && d.x1 <= d.x2 && d.y1 <= d.y2;
      beyondInput ||= d.x2 > im.inputShape[1] + 1 || d.y2 > im.inputShape[0] + 1;
    }
    t.ok(ok, 'every line: class, xywh in [0,1] matching the box, conf descending above the threshold');
    t.ok(beyondInput, 'boxes reach past the 64-pixel input: they are in original-image pixels');
  }
});

t.test('--max-det 1 --classes: one box, drawn in its class colour', async (t) => {
  const r = await detectRun({
    weights: WEIGHTS,
    source: join(src, 'wide.png'),
    img: 64,
    confThres: 0.01,
    maxDet: 1,
    project: join(dir, 'runs'),
    name: 'one',
  });
  const [im] = r.images;
  t.equal(im.detections.length, 1);
  const d = im.detections[0];
  const { data, info } = await sharp(im.saved!).raw().toBuffer({ resolveWithObject: true });
  const x = Math.min(Math.floor(d.x1), im.width - 1),
    y = Math.floor((d.y1 + d.y2) / 2) + 8;
  const px = [...data.subarray((y * info.width + x) * info.channels, (y * info.width + x) * info.channels + 3)];
  const want = [1, 3, 5].map((i) => parseInt(classColor(d.cls).slice(i, i + 2), 16));
  t.ok(
    px.every((v, i) => Math.abs(v - want[i]) <= 2),
    `the left edge is ${classColor(d.cls)} (got rgb ${px})`,
  );
  const other = (d.cls + 1) % 80;
  const none = await detectRun({
    weights: WEIGHTS,
    source: join(src, 'wide.png'),
    img: 64,
    confThres: 0.01,
    classes: [other],
    project: join(dir, 'runs'),
    name: 'cls',
  });
  t.ok(
    none.images[0].detections.every((x) => x.cls === other),
    '--classes keeps only those classes',
  );
});

t.test('the CLI: runs/detect/expN numbering, --nosave, usage errors', async (t) => {
  const project = join(dir, 'cli');
  const args = [
    'detect',
    '--weights',
    WEIGHTS,
    '--source',
    src,
    '--img',
    '64',
    '--conf-thres',
    '0.01',
    '--save-txt',
    '--nosave',
    '--project',
    project,
    '--json',
  ];
  t.equal(await main(args), 0);
  t.equal(await main(args), 0);
  t.ok(existsSync(join(project, 'exp', 'labels', 'wide.txt')) && existsSync(join(project, 'exp2', 'labels', 'tall.txt')), 'exp, then exp2');
  t.notOk(existsSync(join(project, 'exp', 'wide.png')), '--nosave writes no images');
  t.equal(await main(['detect', '--weights', WEIGHTS]), 2, '--source required');
  t.equal(await main(['detect', '--weights', WEIGHTS, '--source', src, '--conf-thres', '2']), 2, 'a bad threshold');
});

t.test('docs/yolov5-weights-detect.md lists every detect flag', async (t) => {
  const lines: string[] = [];
  const log = console.log;
  console.log = (...a: unknown[]) => {
    lines.push(a.join(' '));
  };
  try {
    t.equal(await main(['detect', '--help']), 0);
  } finally {
    console.log = log;
  }
  const flags = [...new Set(lines.join('\n').match(/--[a-z][a-z-]+/g) ?? [])];
  const doc = readFileSync(fileURLToPath(new URL('../../docs/yolov5-weights-detect.md', import.meta.url)), 'utf8');
  t.ok(flags.length >= 14, `${flags.length} flags in the usage`);
  t.same(
    flags.filter((f) => !doc.includes(`\`${f}`)),
    [],
    'each one is documented',
  );
});
