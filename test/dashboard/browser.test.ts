/**
 * The dashboard in a real browser (headless Debian chromium via playwright-core) against a real
 * cluster: nats-server, the head and one local worker agent training a logreg job. The page
 * loads, lists the running job, its loss curve gains points as steps arrive, the submit form
 * shows the API's field errors, and Cancel cancels the job (the API says so too).
 */
import t from 'tap';
import { chromiumPath, launchChromium, chartHas } from './browser.ts';
import { startDashboardCluster } from './cluster.ts';
import { until } from '../head/helpers/wait.ts';

const exe = chromiumPath();
const skip = exe ? false : 'no chromium binary (apt-get install chromium, or set FLOTILLA_CHROMIUM)';

t.test('dashboard: jobs table, live loss curve, submit errors, cancel', { skip }, async (t) => {
  if (!exe) return;
  const cluster = await startDashboardCluster(1, 1);
  t.teardown(() => cluster.stop());
  const browser = await launchChromium(exe);
  t.teardown(() => browser.close());
  const { api, url } = cluster;

  const index = await fetch(`${url}/`);
  t.equal(index.status, 200, 'GET / serves the page');
  t.match(await index.text(), /<script type="module" src="\/ui\/app.js">/, 'the page loads its module');
  t.equal((await fetch(`${url}/ui/vendor/uplot/uPlot.esm.js`)).status, 200, 'uPlot is served from node_modules');
  t.equal((await fetch(`${url}/ui/vendor/uplot/uPlot.d.ts`)).status, 404, 'only the two uPlot files are served');

  await until('the worker registered', async () => (await api.workers()).length === 1, 120_000);
  // Long enough that it is still running when cancelled; the test never waits for it to end.
  const job = await api.submit({ name: 'browser-logreg', trainer: { kind: 'logreg', steps: 100_000, step_delay_ms: 50 } });

  const page = await browser.context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${url}/`);
  const row = page.locator(`tr[data-job="${job.id}"]`);
  await row.waitFor({ timeout: 60_000 });
  await page.waitForSelector(`tr[data-job="${job.id}"][data-state="running"]`, { timeout: 120_000 });
  t.match(await row.innerText(), /browser-logreg/, 'the jobs table shows the running job by name');

  await page.selectOption('select[name=state]', 'succeeded');
  await page.waitForSelector(`tr[data-job="${job.id}"]`, { state: 'detached' });
  t.pass('the state filter hides a running job when filtering for succeeded');
  await page.selectOption('select[name=state]', 'running');
  await row.waitFor();

  // A bad spec: the head's schema rejects it and the form shows the field error.
  await page.fill('form.submit input[name=steps]', '-3');
  await page.click('form.submit button[type=submit]');
  const stepsError = page.locator('form.submit [data-field=steps] .field-error');
  await page.waitForFunction(`document.querySelector('form.submit [data-field=steps] .field-error')?.textContent !== ''`, undefined, {
    timeout: 30_000,
  });
  t.match(await stepsError.innerText(), /./, `the steps field shows the API's error: ${await stepsError.innerText()}`);
  t.equal((await api.list()).length, 1, 'the rejected spec created no job');

  await row.locator('a').click();
  await page.waitForURL(`**/#/job/${job.id}`);
  await page.waitForFunction(chartHas('loss', 3), undefined, { timeout: 120_000 });
  const first = Number(await page.getAttribute('[data-chart=loss]', 'data-points'));
  await page.waitForFunction(chartHas('loss', first + 3), undefined, { timeout: 120_000 });
  const later = Number(await page.getAttribute('[data-chart=loss]', 'data-points'));
  t.ok(later > first, `the loss curve grows as steps arrive (${first} -> ${later} points)`);
  t.ok((await page.locator('svg.uplot, .uplot canvas').count()) > 0, 'uPlot drew the curve');
  await page.waitForSelector('table.ranks tr[data-rank="0"]');
  t.match(await page.locator('table.ranks tr[data-rank="0"]').innerText(), /native-cpu|cpu|tensorflow/, 'rank 0 shows its node backend');

  // Scale: the typed count survives the page's redraws (it waits for one), then PATCHes the job.
  await page.fill('.job-head input[name=workers]', '2');
  const shown = await page.locator('[data-fact=progress]').innerText();
  await page.waitForFunction(`document.querySelector('[data-fact=progress]')?.textContent !== ${JSON.stringify(shown)}`, undefined, {
    timeout: 60_000,
  });
  t.equal(await page.inputValue('.job-head input[name=workers]'), '2', 'a redraw keeps the worker count being typed');
  await page.click('button[name=scale]');
  await until('the job scaled to 2 workers', async () => (await api.get(job.id)).spec.workers === 2, 60_000);
  t.pass("Scale changes the job's worker count");

  await page.click('button[name=cancel]');
  await until('the job cancelled', async () => (await api.get(job.id)).state === 'cancelled', 60_000);
  await page.waitForSelector('.job-head .badge.s-cancelled', { timeout: 30_000 });
  t.pass('Cancel cancels the job and the page shows it');
  t.notOk(await page.locator('button[name=fault]').count(), 'no fault button: this head has no fault-injection route');

  await page.click('a[data-nav=workers]');
  await page.waitForSelector('table.workers tr[data-node]', { timeout: 30_000 });
  t.equal(await page.locator('table.workers tr[data-node]').count(), 1, 'the workers page lists the one worker');
  t.equal((await page.locator('[data-figure=workers] .value').innerText()).trim(), '1', 'and counts it in the cluster figures');
  await page.waitForFunction(chartHas('cluster', 2), undefined, { timeout: 30_000 });
  t.pass('the cluster chart collects points');
  t.same(errors, [], 'no uncaught errors in the page');
});
