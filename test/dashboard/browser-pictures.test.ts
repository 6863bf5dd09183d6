/**
 * The run's pictures on the job page, in a real browser (headless chromium via playwright-core)
 * against a real cluster with authentication on: a viewer token typed into the sign-in dialog; a
 * tiny YOLOv5 job on the synthetic set; the label statistics appear, then the latest training
 * batch, the PR curve and the confusion matrix; every picture artifact is a thumbnail that has
 * really loaded (fetched with the token: an <img src> alone could not carry it); a click opens it
 * full size, at the picture's own width as the REST API serves it (image/png).
 */
import t from 'tap';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromiumPath, launchChromium } from './browser.ts';
import { startDashboardCluster } from './cluster.ts';

const exe = chromiumPath();
const skip = exe ? false : 'no chromium binary (apt-get install chromium, or set FLOTILLA_CHROMIUM)';
const TINY = fileURLToPath(new URL('../worker/fixtures/tiny-yolov5.yaml', import.meta.url));
const PICTURES = [
  'F1_curve.png',
  'PR_curve.png',
  'P_curve.png',
  'R_curve.png',
  'confusion_matrix.png',
  'labels.jpg',
  'labels_correlogram.jpg',
  'results.png',
  'train_batch0.jpg',
  'train_batch1.jpg',
  'val_batch0_labels.jpg',
  'val_batch0_pred.jpg',
];

/** An image element that has loaded and decoded. */
const loaded = (sel: string) =>
  `(() => { const i = document.querySelector(${JSON.stringify(sel)}); return !!i && i.complete && i.naturalWidth > 0; })()`;

t.test('dashboard: the run pictures as thumbnails that open full size', { skip }, async (t) => {
  if (!exe) return;
  const cluster = await startDashboardCluster(1, 1, { restAuth: true, paths: { models: dirname(TINY) } });
  t.teardown(() => cluster.stop());
  const { api, url } = cluster;
  const viewer = await api.createToken({ role: 'viewer', name: 'pictures' });
  const job = await api.submit({
    name: 'pictures',
    trainer: {
      kind: 'yolov5',
      cfg: TINY,
      data: 'synthetic',
      img: 64,
      epochs: 2,
      batch: 2,
      synthetic: { train: 4, val: 2, seed: 3 },
      hyp: { warmup_epochs: 0 },
    },
  } as never);

  const browser = await launchChromium(exe);
  t.teardown(() => browser.close());
  const page = await browser.context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${url}/#/job/${job.id}`);
  await page.waitForSelector('#token-dialog[open]', { timeout: 30_000 });
  await page.fill('#token-dialog input[name=token]', viewer.token);
  await page.click('#token-dialog button[type=submit]');
  await page.waitForSelector('section.pictures', { timeout: 60_000 });
  t.match(await page.locator('[data-slot=pr]').innerText(), /once validation has run|PR_curve/, 'the PR slot says when it comes');

  await page.waitForFunction(loaded('[data-slot=labels] img'), undefined, { timeout: 300_000 });
  t.pass('the label statistics show (labels.jpg)');
  for (const slot of ['train-batch', 'pr', 'confusion']) {
    await page.waitForFunction(loaded(`[data-slot=${slot}] img`), undefined, { timeout: 300_000 });
    t.pass(`the ${slot} picture shows`);
  }
  await page.waitForFunction(
    `document.querySelectorAll('.pictures .thumbs button[data-picture] img').length >= ${PICTURES.length}`,
    undefined,
    { timeout: 300_000 },
  );
  const names = await page.$$eval('.pictures .thumbs button[data-picture]', (bs) =>
    bs.map((b) => (b as unknown as { dataset: { picture?: string } }).dataset.picture),
  );
  t.same(names, [...PICTURES].sort(), 'every picture artifact is a thumbnail');
  await page.waitForFunction(
    `[...document.querySelectorAll('.pictures .thumbs img')].every((i) => i.complete && i.naturalWidth > 0)`,
    undefined,
    { timeout: 60_000 },
  );
  t.pass('every thumbnail has loaded');
  t.match(
    await page.locator('[data-slot=train-batch] button').getAttribute('data-picture'),
    /^train_batch1\.jpg$/,
    'the latest training batch is shown first',
  );

  // full size: the viewer shows the picture at its own width, as served by the REST API
  const res = await fetch(`${url}/v1/jobs/${job.id}/artifacts/confusion_matrix.png`, {
    headers: { authorization: `Bearer ${viewer.token}` },
  });
  t.equal(res.headers.get('content-type'), 'image/png', 'the API serves a picture as image/png');
  const png = new Uint8Array(await res.arrayBuffer());
  const width = new DataView(png.buffer).getUint32(16);
  await page.click('[data-slot=confusion] button');
  await page.waitForSelector('dialog.viewer[open]', { timeout: 10_000 });
  await page.waitForFunction(loaded('dialog.viewer img'), undefined, { timeout: 30_000 });
  const shown = await page.$eval('dialog.viewer img', (i) => {
    const img = i as unknown as { naturalWidth: number; clientWidth: number };
    return { natural: img.naturalWidth, client: img.clientWidth };
  });
  t.same(shown, { natural: width, client: width }, `the confusion matrix opens full size (${width} px wide)`);
  t.equal(await page.getAttribute('dialog.viewer', 'data-picture'), 'confusion_matrix.png');
  await page.click('dialog.viewer button[name=close]');
  await page.click('.pictures .thumbs button[data-picture="results.png"]');
  await page.waitForFunction(`document.querySelector('dialog.viewer[open]')?.dataset.picture === 'results.png'`, undefined, {
    timeout: 10_000,
  });
  await page.waitForFunction(loaded('dialog.viewer img'), undefined, { timeout: 30_000 });
  t.equal(
    await page.$eval('dialog.viewer img', (i) => (i as unknown as { naturalWidth: number }).naturalWidth),
    1600,
    'a thumbnail opens results.png at 1600 px',
  );
  t.same(errors, [], 'no uncaught errors in the page');
});
