/**
 * The study pages in a real browser (headless chromium via playwright-core) against a real
 * cluster with authentication on (a viewer token typed into the sign-in dialog): a real study of
 * four logreg trials, two at a time, on one two-slot agent. The Studies tab lists it; its page
 * draws one dot per scored trial on the fitness curve, sorts the trials table by fitness (best
 * first, then worst first) on a header click, links each trial to its job page (which links
 * back to the study), and its artifacts download with the token, byte for byte as the API
 * serves them.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { chromiumPath, launchChromium } from './browser.ts';
import { startDashboardCluster } from './cluster.ts';
import { until } from '../head/helpers/wait.ts';

const exe = chromiumPath();
const skip = exe ? false : 'no chromium binary (apt-get install chromium, or set FLOTILLA_CHROMIUM)';

t.test('dashboard: studies list, study page (curve, sortable trials, links, artifacts)', { skip }, async (t) => {
  if (!exe) return;
  const cluster = await startDashboardCluster(1, 2, { restAuth: true });
  t.teardown(() => cluster.stop());
  const { api, url } = cluster;
  const viewer = await api.createToken({ role: 'viewer', name: 'study-page' });
  const created = await api.startStudy({
    name: 'browser-study',
    base: { trainer: { kind: 'logreg', steps: 40, batch: 32 } },
    space: { lr: [0.001, 3] },
    method: 'random',
    trials: 4,
    concurrency: 2,
    seed: 7,
  });
  const id = created.id;
  await until('the study ended', async () => (await api.study(id)).state !== 'running', 300_000);
  const st = await api.study(id);
  t.equal(st.state, 'succeeded', `the study succeeded (${st.message})`);
  t.ok(
    st.trials.every((x) => x.fitness !== null),
    'every trial has a fitness',
  );
  t.ok(new Set(st.trials.map((x) => x.fitness)).size > 1, `the trials differ in fitness (${st.trials.map((x) => x.fitness).join(', ')})`);

  const browser = await launchChromium(exe);
  t.teardown(() => browser.close());
  const page = await browser.context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${url}/`);
  await page.waitForSelector('#token-dialog[open]', { timeout: 30_000 });
  await page.fill('#token-dialog input[name=token]', viewer.token);
  await page.click('#token-dialog button[type=submit]');

  await page.click('a[data-nav=studies]');
  const row = page.locator(`table.studies tr[data-study="${id}"]`);
  await row.waitFor({ timeout: 30_000 });
  t.match(await row.innerText(), /browser-study[\s\S]*succeeded[\s\S]*random[\s\S]*4\/4/, 'the studies list shows the study');
  t.equal(await page.getAttribute('a[data-nav=studies]', 'class'), 'active', 'the Studies tab is active');
  await row.locator(`a[href="#/study/${id}"]`).click();
  await page.waitForURL(`**/#/study/${id}`);
  await page.waitForSelector('table.trials tr[data-trial]', { timeout: 30_000 });

  t.equal(await page.getAttribute('svg.fitness-curve', 'data-points'), '4', 'the curve counts 4 scored trials');
  t.equal(await page.locator('svg.fitness-curve circle.trial').count(), 4, 'and draws a dot per trial');
  t.equal(await page.locator('svg.fitness-curve polyline.best-so-far').count(), 1, 'and the best-so-far line');
  t.equal(await page.locator('svg.fitness-curve circle.best').getAttribute('data-n'), String(st.best), 'the best trial is ringed');

  const order = async () =>
    await page.$$eval('table.trials tbody tr[data-trial]', (rs) => rs.map((r) => Number(r.getAttribute('data-trial'))));
  t.same(await order(), [0, 1, 2, 3], 'trials in trial order at first');
  const byFitness = [...st.trials].sort((a, b) => (b.fitness as number) - (a.fitness as number)).map((x) => x.n);
  await page.click('table.trials th[data-sort=fitness]');
  t.same(await order(), byFitness, 'a click on fitness sorts best first');
  t.equal(await page.getAttribute('table.trials th[data-sort=fitness]', 'aria-sort'), 'descending');
  t.equal(await order().then((o) => o[0]), st.best, 'the best trial on top');
  await page.click('table.trials th[data-sort=fitness]');
  t.same(await order(), [...byFitness].reverse(), 'a second click sorts worst first');
  await page.click('table.trials th[data-sort="hyp.lr"]');
  t.same(
    await order(),
    [...st.trials].sort((a, b) => a.hyp.lr - b.hyp.lr).map((x) => x.n),
    'a click on lr sorts by the sampled value',
  );

  const links = await page.$$eval('table.trials tbody tr[data-trial] td:nth-child(2) a', (as) => as.map((a) => a.getAttribute('href')));
  t.same([...links].sort(), st.trials.map((x) => `#/job/${x.job_id}`).sort(), 'each trial links to its job page');

  await page.waitForSelector('ul.artifacts li[data-artifact]', { timeout: 30_000 });
  const names = await page.$$eval('ul.artifacts li[data-artifact]', (ls) => ls.map((l) => l.getAttribute('data-artifact')));
  t.same(names, ['evolve.csv', 'hyp_evolve.yaml', 'evolve.svg'], 'the study artifacts are listed');
  for (const name of ['evolve.csv', 'hyp_evolve.yaml']) {
    const [download] = await Promise.all([page.waitForEvent('download'), page.click(`ul.artifacts li[data-artifact="${name}"] a`)]);
    t.equal(download.suggestedFilename(), name);
    t.equal(
      readFileSync(await download.path()).toString('utf8'),
      await api.studyArtifact(id, name),
      `${name} downloads with the token, as the API serves it`,
    );
  }

  const best = st.trials[st.best as number];
  await page.click(`table.trials tr[data-trial="${best.n}"] td:nth-child(2) a`);
  await page.waitForURL(`**/#/job/${best.job_id}`);
  await page.waitForSelector('[data-fact=study]', { timeout: 30_000 });
  t.equal(await page.getAttribute('[data-fact=study]', 'href'), `#/study/${id}`, "the trial's job page links back to its study");
  await page.click('[data-fact=study]');
  await page.waitForSelector('table.trials tr[data-trial]', { timeout: 30_000 });
  t.pass('and the link opens the study page');
  t.same(errors, [], 'no uncaught errors in the page');
});
