/**
 * The scan report (train.py's "N images, N backgrounds, N corrupt" and its per-file warnings):
 * backgrounds split into missing and empty label files, corrupt images and label files left
 * out with the reason, duplicate label rows removed, label files without an image found.
 */
import t from 'tap';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { loadDataset, scanReport } from '../../worker/engine/data/index.ts';

async function png(file: string, w = 32, h = 24): Promise<void> {
  await sharp({ create: { width: w, height: h, channels: 3, background: '#808080' } })
    .png()
    .toFile(file);
}

t.test('scan: counts, corrupt files with reasons, duplicates, orphan label files', async (t) => {
  const dir = t.testdir({});
  for (const d of ['images/train', 'labels/train']) await mkdir(join(dir, d), { recursive: true });
  const img = (n: string) => join(dir, 'images/train', n),
    lab = (n: string) => join(dir, 'labels/train', n);
  await png(img('a.png'));
  await writeFile(lab('a.txt'), '0 0.5 0.5 0.2 0.2\n0 0.5 0.5 0.2 0.2\n1 0.3 0.3 0.1 0.1\n'); // one duplicate row
  await png(img('b.png')); // no label file
  await png(img('c.png'));
  await writeFile(lab('c.txt'), '');
  await png(img('d.png'));
  await writeFile(lab('d.txt'), '0 0.5 0.5 0.2\n'); // 4 values
  await png(img('e.png'), 5, 40);
  await writeFile(lab('e.txt'), '0 0.5 0.5 0.2 0.2\n'); // 5 px wide
  await writeFile(img('f.jpg'), 'not a jpeg');
  await writeFile(lab('f.txt'), '0 0.5 0.5 0.2 0.2\n');
  await writeFile(lab('g.txt'), '0 0.5 0.5 0.2 0.2\n'); // no image
  await writeFile(join(dir, 'data.yaml'), 'path: .\ntrain: images/train\nval: images/train\nnames: [x, y]\n');

  const ds = await loadDataset(join(dir, 'data.yaml'), 'train', { skipCorrupt: true });
  t.same(
    ds.items.map((i) => i.imagePath),
    [img('a.png'), img('b.png'), img('c.png')],
    'corrupt images left out',
  );
  t.equal(ds.backgrounds, 2);
  t.equal(ds.missingLabels, 1);
  t.equal(ds.emptyLabels, 1);
  t.equal(ds.duplicates, 1);
  t.same(
    ds.corrupt.map((c) => c.image),
    [img('d.png'), img('e.png'), img('f.jpg')],
  );
  t.match(ds.corrupt[0].reason, /d\.txt:1: .*'0 0\.5 0\.5 0\.2'/, 'the label file and line');
  t.match(ds.corrupt[1].reason, /image size 5x40 <10 pixels/);
  t.match(ds.corrupt[2].reason, /f\.jpg/);
  t.same(ds.orphanLabels, [lab('g.txt')]);
  const lines = scanReport(ds);
  t.equal(
    lines[0],
    'train: 3 images, 2 backgrounds (1 without a label file, 1 empty), 3 corrupt, 1 duplicate labels removed, 1 label files without an image',
  );
  t.match(lines[1], /^train: WARNING ⚠️ .*d\.png: ignoring corrupt image\/label: /);
  t.equal(lines.at(-1), `train: WARNING ⚠️ ${lab('g.txt')}: label file without an image`);
  t.equal(lines.length, 5);

  await t.rejects(
    loadDataset(join(dir, 'data.yaml'), 'train'),
    { name: 'LabelFormatError' },
    'without skipCorrupt a malformed label file is an error',
  );
});

t.test('scan: all images corrupt is an error naming the first', async (t) => {
  const dir = t.testdir({});
  await mkdir(join(dir, 'images'), { recursive: true });
  await writeFile(join(dir, 'images', 'x.jpg'), 'garbage');
  await writeFile(join(dir, 'data.yaml'), 'train: images\nval: images\nnames: [x]\n');
  await t.rejects(
    loadDataset(join(dir, 'data.yaml'), 'train', { skipCorrupt: true }),
    /every one of the 1 'train' images is corrupt \(first: .*x\.jpg/,
  );
});
