import t from 'tap';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { LabelFormatError, labelPathFor, loadDataset, parseLabels } from '../../worker/engine/data/index.ts';

t.test('parseLabels reads boxes, converts polygons, drops duplicates', async (t) => {
  const { labels, duplicates } = parseLabels(
    '0 0.5 0.5 0.2 0.4\n\n2 0.1 0.2 0.1 0.1\r\n2 0.1 0.2 0.1 0.1\n1 0.1 0.1 0.5 0.1 0.3 0.7\n',
    'a.txt',
    3,
  );
  t.equal(duplicates, 1);
  t.equal(labels.length, 15);
  t.same(
    Array.from(labels.subarray(0, 5)).map((v) => +v.toFixed(6)),
    [0, 0.5, 0.5, 0.2, 0.4],
  );
  // the polygon (0.1,0.1) (0.5,0.1) (0.3,0.7) → box x 0.1..0.5, y 0.1..0.7
  t.same(
    Array.from(labels.subarray(10, 15)).map((v) => +v.toFixed(6)),
    [1, 0.3, 0.4, 0.4, 0.6],
  );
  t.equal(parseLabels('', 'empty.txt').labels.length, 0);
});

t.test('parseLabels errors name the file and the line', async (t) => {
  const cases: [string, RegExp][] = [
    ['0 0.5 0.5 0.2', /expected 5 columns/],
    ['0 0.5 0.5 0.2 0.2 0.1', /expected 5 columns/],
    ['0 0.5 x 0.2 0.2', /'x' is not a number/],
    ['0 1.5 0.5 0.2 0.2', /outside \[0, 1\]/],
    ['0 0.5 0.5 -0.2 0.2', /outside \[0, 1\]/],
    ['1.5 0.5 0.5 0.2 0.2', /not a non-negative integer/],
    ['-1 0.5 0.5 0.2 0.2', /not a non-negative integer/],
    ['3 0.5 0.5 0.2 0.2', /exceeds nc=3/],
    ['0 0.5 0.5 0 0.2', /zero width or height/],
    ['0 NaN 0.5 0.2 0.2', /not a number/],
  ];
  for (const [line, re] of cases) {
    const err = t.throws(() => parseLabels(`0 0.5 0.5 0.1 0.1\n${line}\n`, '/data/labels/x.txt', 3)) as unknown as LabelFormatError;
    t.type(err, LabelFormatError, line);
    t.equal(err.file, '/data/labels/x.txt');
    t.equal(err.line, 2, `line number for '${line}'`);
    t.match(err.message, /^\/data\/labels\/x\.txt:2: /);
    t.match(err.message, re, line);
  }
});

t.test('labelPathFor swaps the last images/ for labels/ and the extension', async (t) => {
  t.equal(labelPathFor('/d/images/train/a.b.jpg'), '/d/labels/train/a.b.txt');
  t.equal(labelPathFor('/images/d/images/x.PNG'), '/images/d/labels/x.txt');
});

async function png(file: string, w = 8, h = 6): Promise<void> {
  await sharp({ create: { width: w, height: h, channels: 3, background: '#808080' } })
    .png()
    .toFile(file);
}

t.test('loadDataset: folders, .txt lists, names as a map, missing labels, malformed labels', async (t) => {
  const dir = t.testdir({});
  for (const d of ['images/train', 'images/val', 'labels/train', 'labels/val', 'other'])
    await mkdir(join(dir, 'root', d), { recursive: true });
  const root = join(dir, 'root');
  await png(join(root, 'images/train/b.png'));
  await png(join(root, 'images/train/a.png'));
  await png(join(root, 'images/val/v.png'));
  await writeFile(join(root, 'labels/train/a.txt'), '1 0.5 0.5 0.5 0.5\n');
  // b has no label file: a background image
  await writeFile(join(root, 'labels/val/v.txt'), '0 0.5 0.5 0.5 0.5\n0 0.2 0.2 0.1 0.1\n');
  await writeFile(join(root, 'val.txt'), './images/val/v.png\nimages/train/a.png\n');
  await writeFile(join(dir, 'data.yaml'), 'path: root\ntrain: images/train\nval: val.txt\nnames:\n  0: cat\n  1: dog\n');

  const train = await loadDataset(join(dir, 'data.yaml'), 'train');
  t.same(train.names, ['cat', 'dog']);
  t.equal(train.nc, 2);
  t.equal(train.root, root);
  t.same(
    train.items.map((i) => i.imagePath),
    [join(root, 'images/train/a.png'), join(root, 'images/train/b.png')],
  );
  t.equal(train.items[1].labels.length, 0, 'missing label file = background');
  t.equal(train.backgrounds, 1);
  t.same(Array.from(train.items[0].labels), [1, 0.5, 0.5, 0.5, 0.5]);

  const val = await loadDataset(join(dir, 'data.yaml'), 'val');
  t.same(
    val.items.map((i) => i.imagePath),
    [join(root, 'images/train/a.png'), join(root, 'images/val/v.png')],
  );
  t.equal(val.items[1].labels.length, 10);

  await writeFile(join(root, 'labels/train/a.txt'), '1 0.5 0.5 0.5 0.5\n0 0.5 0.5 0.5\n');
  await t.rejects(loadDataset(join(dir, 'data.yaml'), 'train'), {
    name: 'LabelFormatError',
    file: join(root, 'labels/train/a.txt'),
    line: 2,
  });
  await writeFile(join(root, 'labels/train/a.txt'), '2 0.5 0.5 0.5 0.5\n');
  await t.rejects(loadDataset(join(dir, 'data.yaml'), 'train'), /a\.txt:1: class 2 exceeds nc=2/);

  await writeFile(join(dir, 'bad.yaml'), 'train: images/train\nnames: [a]\n');
  await t.rejects(loadDataset(join(dir, 'bad.yaml'), 'train'), /bad\.yaml: invalid dataset yaml: val/);
  await writeFile(join(dir, 'empty.yaml'), 'path: root\ntrain: other\nval: other\nnames: [a, b]\n');
  await t.rejects(loadDataset(join(dir, 'empty.yaml'), 'train'), /no images found for 'train'/);
  await writeFile(join(dir, 'nc.yaml'), 'path: root\ntrain: other\nval: other\nnc: 3\nnames: [a, b]\n');
  await t.rejects(loadDataset(join(dir, 'nc.yaml'), 'train'), /nc=3 but 2 names/);
});
