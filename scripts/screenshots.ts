/**
 * `npm run screenshots`: starts a real local cluster (nats-server, head, 2 workers), trains a
 * the demo's YOLOv5n job on the synthetic set next to two logreg jobs, and writes a PNG of each
 * dashboard page to docs/screenshots/ while the YOLOv5 job trains (and once after it has
 * validated, for the P/R/mAP curve). A few minutes on a 2-core machine.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { startDashboardCluster } from '../test/dashboard/cluster.ts';
import { chromiumPath, launchChromium, chartHas } from '../test/dashboard/browser.ts';
import { DEMO_HYP } from '../bin/cli/demo.ts';
import { until as untilTrue } from '../test/head/helpers/wait.ts';

const OUT = join(import.meta.dirname, '..', 'docs', 'screenshots');

const until = (what: string, fn: () => Promise<boolean>, ms = 300_000) => untilTrue(what, fn, ms);

const exe = chromiumPath();
if (!exe) {
  console.error('screenshots: no chromium found (install Debian chromium or set FLOTILLA_CHROMIUM)');
  process.exit(2);
}
mkdirSync(OUT, { recursive: true });
const cluster = await startDashboardCluster(2);
const browser = await launchChromium(exe);
try {
  const { api } = cluster;
  await until('2 workers', async () => (await api.workers()).length === 2);
  const done = await api.submit({ name: 'logreg-smoke', trainer: { kind: 'logreg', steps: 40 } });
  await until('the logreg job', async () => (await api.get(done.id)).state === 'succeeded');
  const yolo = await api.submit({
    name: 'shapes-yolov5n',
    workers: 2,
    checkpoint_every: 10,
    // the demo's job (flotilla demo), so the curves show a model that learns
    trainer: {
      kind: 'yolov5',
      cfg: 'yolov5n.yaml',
      data: 'synthetic',
      img: 128,
      epochs: 30,
      batch: 16,
      nbs: 16,
      hyp: DEMO_HYP,
      synthetic: { train: 128, val: 32, seed: 0 },
    },
  });
  await api.submit({ name: 'queued-logreg', workers: 2, trainer: { kind: 'logreg', steps: 100 } });
  const page = await browser.context.newPage();
  await page.goto(`${cluster.url}/#/job/${yolo.id}`);
  await page.waitForFunction(chartHas('eval', 8), undefined, { timeout: 600_000 });
  await page.screenshot({ path: join(OUT, 'job-training.png'), fullPage: true });
  await page.goto(`${cluster.url}/#/jobs`);
  await page.waitForSelector(`tr[data-job="${yolo.id}"]`);
  await page.screenshot({ path: join(OUT, 'jobs.png'), fullPage: true });
  await page.goto(`${cluster.url}/#/workers`);
  await page.waitForFunction(chartHas('cluster', 8), undefined, { timeout: 60_000 });
  await page.screenshot({ path: join(OUT, 'workers.png'), fullPage: true });
  await page.goto(`${cluster.url}/#/job/${yolo.id}`);
  await until('the YOLOv5 job', async () => ['succeeded', 'failed'].includes((await api.get(yolo.id)).state), 600_000);
  await page.waitForFunction(chartHas('eval', 1), undefined, { timeout: 60_000 });
  await page.waitForTimeout(1500);
  await page.screenshot({ path: join(OUT, 'job-done.png'), fullPage: true });
  console.log(`screenshots: wrote jobs.png, job-training.png, workers.png, job-done.png to ${OUT}`);
} finally {
  await browser.close();
  await cluster.stop();
}
