import t from 'tap';
import {
  Rng,
  boxCandidate,
  hsvLuts,
  letterbox,
  mat3,
  matMul,
  mosaic,
  rectShape,
  transformBoxes,
  warp,
  writeSample,
  xyxyToXywhn,
  type LoadedImage,
  type RgbImage,
} from '../../worker/engine/data/index.ts';

function solid(width: number, height: number, grey: number): LoadedImage {
  return { data: new Uint8Array(width * height * 3).fill(grey), width, height, origWidth: width, origHeight: height };
}
function fillRect(im: RgbImage, x1: number, y1: number, x2: number, y2: number, rgb: readonly number[]): void {
  for (let y = y1; y < y2; y++) for (let x = x1; x < x2; x++) im.data.set(rgb, (y * im.width + x) * 3);
}
/** Bounds [x1, y1, x2, y2) of pixels within `tol` of `rgb` (null when none) and their count. */
function extent(im: RgbImage, rgb: readonly number[], tol = 40): { box: [number, number, number, number] | null; count: number } {
  let x1 = Infinity,
    y1 = Infinity,
    x2 = -Infinity,
    y2 = -Infinity,
    count = 0;
  for (let y = 0; y < im.height; y++)
    for (let x = 0; x < im.width; x++) {
      const o = (y * im.width + x) * 3;
      if (Math.abs(im.data[o] - rgb[0]) <= tol && Math.abs(im.data[o + 1] - rgb[1]) <= tol && Math.abs(im.data[o + 2] - rgb[2]) <= tol) {
        count++;
        x1 = Math.min(x1, x);
        y1 = Math.min(y1, y);
        x2 = Math.max(x2, x + 1);
        y2 = Math.max(y2, y + 1);
      }
    }
  return { box: count ? [x1, y1, x2, y2] : null, count };
}

t.test('letterbox keeps the aspect ratio, centres, pads with 114, and the box mapping matches the pixels', async (t) => {
  const im = solid(200, 100, 60);
  fillRect(im, 40, 20, 80, 60, [255, 0, 0]);
  const lb = letterbox(im, 128, 128, true);
  t.equal(lb.ratio, 0.64);
  t.equal(lb.left, 0);
  t.equal(lb.top, 32);
  t.equal(lb.padH, 32);
  t.same(Array.from(lb.image.data.subarray(0, 3)), [114, 114, 114], 'padding is grey 114');
  const { box } = extent(lb.image, [255, 0, 0], 60);
  const expect = [40 * 0.64, 20 * 0.64 + 32, 80 * 0.64, 60 * 0.64 + 32];
  for (let k = 0; k < 4; k++) t.ok(Math.abs(box![k] - expect[k]) <= 1, `edge ${k}: pixels ${box![k]} vs mapped ${expect[k]}`);
  const noUp = letterbox(solid(50, 20, 1), 96, 160, false);
  t.equal(noUp.ratio, 1, 'scaleup=false keeps small images at their size');
  t.equal(noUp.left, 55);
  t.equal(noUp.top, 38);
});

t.test('rectShape follows the reference (stride 32, pad 0.5)', async (t) => {
  t.same(rectShape([0.5, 0.6], 320), [224, 352]);
  t.same(rectShape([1.5, 2], 320), [352, 256]);
  t.same(rectShape([0.5, 1.2], 320), [352, 352]);
  t.same(rectShape([0.75], 640, 32, 0), [480, 640]);
});

t.test('boxCandidate and xyxyToXywhn by hand', async (t) => {
  t.ok(boxCandidate(10, 10, 5, 5), '25% of the area kept');
  t.notOk(boxCandidate(10, 10, 3, 3), '9% kept < 10%');
  t.notOk(boxCandidate(100, 100, 2, 50), 'width 2 px is not > 2');
  t.notOk(boxCandidate(1000, 10, 500, 4.9), 'aspect ratio 102 >= 100');
  const n = xyxyToXywhn(Float32Array.from([3, -10, 20, 60, 120]), 100, 100);
  t.same(
    Array.from(n).map((v) => +v.toFixed(4)),
    [3, 0.3, 0.6, 0.6, 0.8],
    'clipped to the image first',
  );
});

t.test('transformBoxes: translation moves boxes, clipping and the area filter apply', async (t) => {
  const m = mat3([1, 0, 30, 0, 1, -5, 0, 0, 1]);
  const out = transformBoxes(Float32Array.from([1, 10, 10, 50, 40, 2, 97, 0, 110, 20, 0, 0, 40, 10, 60]), m, 1, 128, 128);
  t.same(Array.from(out), [1, 40, 5, 80, 35, 0, 30, 35, 40, 55], 'the box pushed to a 1 px sliver at the right edge is dropped');
});

/** A slow, obvious warp: every neighbour fetched with an explicit border test, float64 throughout. */
function naiveWarp(src: RgbImage, m: Float64Array, w: number, h: number): Uint8Array {
  const [a, b, c, d, e, f, g, hh, i] = m;
  const det = a * (e * i - f * hh) - b * (d * i - f * g) + c * (d * hh - e * g);
  const inv = [
    (e * i - f * hh) / det,
    -(b * i - c * hh) / det,
    (b * f - c * e) / det,
    -(d * i - f * g) / det,
    (a * i - c * g) / det,
    -(a * f - c * d) / det,
    (d * hh - e * g) / det,
    -(a * hh - b * g) / det,
    (a * e - b * d) / det,
  ];
  const out = new Uint8Array(w * h * 3);
  const at = (x: number, y: number, ch: number) =>
    x < 0 || y < 0 || x >= src.width || y >= src.height ? 114 : src.data[(y * src.width + x) * 3 + ch];
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const z = inv[6] * x + inv[7] * y + inv[8];
      const sx = (inv[0] * x + inv[1] * y + inv[2]) / z,
        sy = (inv[3] * x + inv[4] * y + inv[5]) / z;
      const x0 = Math.floor(sx),
        y0 = Math.floor(sy),
        fx = sx - x0,
        fy = sy - y0;
      for (let ch = 0; ch < 3; ch++) {
        const v =
          at(x0, y0, ch) * (1 - fx) * (1 - fy) +
          at(x0 + 1, y0, ch) * fx * (1 - fy) +
          at(x0, y0 + 1, ch) * (1 - fx) * fy +
          at(x0 + 1, y0 + 1, ch) * fx * fy;
        out[(y * w + x) * 3 + ch] = Math.round(v);
      }
    }
  return out;
}

t.test('warp matches a slow bilinear reference (affine and perspective)', async (t) => {
  const rng = new Rng(7);
  const src: RgbImage = { data: Uint8Array.from({ length: 37 * 23 * 3 }, () => rng.int(256)), width: 37, height: 23 };
  const rot = (deg: number, s: number) =>
    mat3([s * Math.cos(deg), s * Math.sin(deg), 0, -s * Math.sin(deg), s * Math.cos(deg), 0, 0, 0, 1]);
  const affine = matMul(mat3([1, 0, 20, 0, 1, 12, 0, 0, 1]), matMul(rot(0.3, 1.3), mat3([1, 0, -18, 0, 1, -11, 0, 0, 1])));
  const persp = matMul(affine, mat3([1, 0, 0, 0, 1, 0, 0.002, -0.003, 1]));
  for (const [name, m] of [
    ['affine', affine],
    ['perspective', persp],
  ] as const) {
    const fast = warp(src, m, 41, 29).data,
      slow = naiveWarp(src, m, 41, 29);
    let worst = 0;
    for (let k = 0; k < fast.length; k++) worst = Math.max(worst, Math.abs(fast[k] - slow[k]));
    t.ok(worst <= 1, `${name}: max difference ${worst} <= 1`);
  }
});

/** HSV gains applied with float colour maths (hue in degrees), quantised as OpenCV's 8-bit HSV. */
function hsvReference(r: number, g: number, b: number, rh: number, rs: number, rv: number): number[] {
  const v = Math.max(r, g, b),
    mn = Math.min(r, g, b),
    diff = v - mn;
  let hDeg = 0;
  if (diff > 0) {
    if (v === r) hDeg = (60 * (g - b)) / diff;
    else if (v === g) hDeg = 120 + (60 * (b - r)) / diff;
    else hDeg = 240 + (60 * (r - g)) / diff;
    if (hDeg < 0) hDeg += 360;
  }
  let H = Math.round(hDeg / 2) % 180;
  const S0 = v ? Math.round((255 * diff) / v) : 0;
  H = Math.trunc((H * rh) % 180);
  const S = Math.min(255, Math.trunc(S0 * rs)),
    V = Math.min(255, Math.trunc(v * rv));
  const hh = (H * 2) / 60,
    i = Math.floor(hh) % 6,
    f = hh - Math.floor(hh),
    s = S / 255;
  const p = V * (1 - s),
    q = V * (1 - s * f),
    tt = V * (1 - s * (1 - f));
  const rgb = [
    [V, tt, p],
    [q, V, p],
    [p, V, tt],
    [p, q, V],
    [tt, p, V],
    [V, p, q],
  ][i];
  return rgb.map((x) => Math.round(x));
}

t.test('HSV augmentation matches float colour maths; identity gains round-trip', async (t) => {
  const rng = new Rng(3);
  const n = 4000;
  const im: RgbImage = { data: Uint8Array.from({ length: n * 3 }, () => rng.int(256)), width: n, height: 1 };
  for (const [rh, rs, rv] of [
    [1, 1, 1],
    [1.015, 1.7, 0.6],
    [0.985, 0.3, 1.4],
  ]) {
    const out = new Float32Array(n * 3);
    writeSample(out, 0, im, hsvLuts(rh, rs, rv), false, false);
    let worst = 0;
    for (let k = 0; k < n; k++) {
      const ref = hsvReference(im.data[k * 3], im.data[k * 3 + 1], im.data[k * 3 + 2], rh, rs, rv);
      for (let c = 0; c < 3; c++) worst = Math.max(worst, Math.abs(Math.round(out[k * 3 + c] * 255) - ref[c]));
    }
    t.ok(worst <= 2, `gains ${rh} ${rs} ${rv}: max difference ${worst}/255 <= 2`);
    if (rh === 1 && rs === 1 && rv === 1) {
      let rt = 0;
      for (let k = 0; k < n * 3; k++) rt = Math.max(rt, Math.abs(Math.round(out[k] * 255) - im.data[k]));
      t.ok(rt <= 4, `identity gains change a channel by at most ${rt} <= 4 (hue quantised to 2 degrees)`);
    }
  }
  const grey: RgbImage = { data: Uint8Array.from([100, 100, 100]), width: 1, height: 1 };
  const o = new Float32Array(3);
  writeSample(o, 0, grey, hsvLuts(1.01, 1.5, 1.2), false, false);
  t.same(
    Array.from(o).map((v) => Math.round(v * 255)),
    [120, 120, 120],
    'grey keeps its hue and saturation, value scales',
  );
});

t.test('writeSample flips mirror the image', async (t) => {
  const im: RgbImage = { data: Uint8Array.from({ length: 3 * 2 * 3 }, (_, i) => i * 10), width: 3, height: 2 };
  const lr = new Float32Array(18),
    ud = new Float32Array(18);
  writeSample(lr, 0, im, null, true, false);
  writeSample(ud, 0, im, null, false, true);
  const px = (a: Float32Array, x: number, y: number) =>
    Array.from(a.subarray((y * 3 + x) * 3, (y * 3 + x) * 3 + 3)).map((v) => Math.round(v * 255));
  const src = (x: number, y: number) => Array.from(im.data.subarray((y * 3 + x) * 3, (y * 3 + x) * 3 + 3));
  for (let y = 0; y < 2; y++)
    for (let x = 0; x < 3; x++) {
      t.same(px(lr, x, y), src(2 - x, y));
      t.same(px(ud, x, y), src(x, 1 - y));
    }
});

const COLOURS = [
  [255, 0, 0],
  [0, 255, 0],
  [0, 0, 255],
  [255, 255, 0],
  [255, 0, 255],
  [0, 255, 255],
  [255, 128, 0],
  [128, 0, 255],
];

t.test('mosaic: labels stay inside the image and match the drawn objects', async (t) => {
  const s = 128;
  const hyp = { degrees: 0, translate: 0.1, scale: 0.5, shear: 0, perspective: 0 };
  const sizes = [
    [128, 128],
    [128, 96],
    [80, 128],
    [128, 128],
  ];
  const tiles = sizes.map(([w, h], k) => {
    const image = solid(w, h, 90);
    const boxes = [
      [8, 10, 8 + 30 + 5 * k, 10 + 25],
      [w - 45, h - 40, w - 6, h - 4],
    ];
    const rows: number[] = [];
    boxes.forEach(([x1, y1, x2, y2], j) => {
      fillRect(image, x1, y1, x2, y2, COLOURS[k * 2 + j]);
      rows.push(k * 2 + j, (x1 + x2) / 2 / w, (y1 + y2) / 2 / h, (x2 - x1) / w, (y2 - y1) / h);
    });
    return { image, labels: Float32Array.from(rows) };
  });
  let checked = 0;
  for (let seed = 0; seed < 12; seed++) {
    const { image, labels } = mosaic(tiles, s, new Rng(seed), hyp);
    t.equal(image.width, s);
    t.equal(image.height, s);
    const seen = new Set<number>();
    for (let i = 0; i < labels.length; i += 5) {
      const cls = labels[i],
        box = Array.from(labels.subarray(i + 1, i + 5));
      seen.add(cls);
      t.ok(
        box[0] >= 0 && box[1] >= 0 && box[2] <= s && box[3] <= s && box[0] < box[2] && box[1] < box[3],
        `seed ${seed} class ${cls}: box inside the image`,
      );
      const { box: px } = extent(image, COLOURS[cls]);
      t.ok(px, `seed ${seed} class ${cls}: a labelled object is visible`);
      if (!px) continue;
      const err = Math.max(...px.map((v, k) => Math.abs(v - box[k])));
      t.ok(err <= 2, `seed ${seed} class ${cls}: label ${box.map((v) => v.toFixed(1))} vs pixels ${px} (off by ${err.toFixed(2)})`);
      checked++;
    }
    // an object clearly visible must be labelled (box_candidates drops only slivers and <10% remnants)
    COLOURS.forEach((c, cls) => {
      const { box: px, count } = extent(image, c, 10);
      if (px && px[2] - px[0] > 6 && px[3] - px[1] > 6 && count > 0.6 * 40 * 40)
        t.ok(seen.has(cls), `seed ${seed}: visible object ${cls} (${count} px) is labelled`);
    });
  }
  t.ok(checked > 20, `${checked} labelled objects compared with their pixels`);
});
