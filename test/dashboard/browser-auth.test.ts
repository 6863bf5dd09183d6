/**
 * The dashboard against a head with authentication on, as `flotilla up` runs it, in a real
 * browser (headless chromium via playwright-core): a fresh browser gets the sign-in dialog and
 * no data; a viewer token typed into it shows the jobs but the viewer's Cancel is refused (403,
 * the job stays); the one-time login link sets an HttpOnly session cookie that shows the jobs
 * without any prompt, and the same link used again signs nobody in.
 */
import t from 'tap';
import { chromiumPath, launchChromium } from './browser.ts';
import { startDashboardCluster } from './cluster.ts';

const exe = chromiumPath();
const skip = exe ? false : 'no chromium binary (apt-get install chromium, or set FLOTILLA_CHROMIUM)';

t.test('dashboard with auth: sign-in dialog, viewer token, one-time login link', { skip }, async (t) => {
  if (!exe) return;
  const cluster = await startDashboardCluster(0, 1, { restAuth: true });
  t.teardown(() => cluster.stop());
  const { api, url, head } = cluster;
  // no worker: the job waits (pending) and stays listed
  const job = await api.submit({ name: 'auth-job', trainer: { kind: 'logreg', steps: 10 } });
  const viewer = await api.createToken({ role: 'viewer', name: 'browser' });

  const b1 = await launchChromium(exe);
  t.teardown(() => b1.close());
  const page = await b1.context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${url}/`);
  await page.waitForSelector('#token-dialog[open]', { timeout: 30_000 });
  t.pass('a browser without a token gets the sign-in dialog');
  t.equal(await page.locator(`tr[data-job="${job.id}"]`).count(), 0, 'and no job data');
  await page.fill('#token-dialog input[name=token]', viewer.token);
  await page.click('#token-dialog button[type=submit]');
  const row = page.locator(`tr[data-job="${job.id}"]`);
  await row.waitFor({ timeout: 60_000 });
  t.match(await row.innerText(), /auth-job/, 'a viewer token shows the jobs');

  await row.locator('a').click();
  await page.waitForURL(`**/#/job/${job.id}`);
  await page.waitForSelector('button[name=cancel]', { timeout: 30_000 });
  const refused = page.waitForResponse((r) => r.url().endsWith(`/v1/jobs/${job.id}/cancel`), { timeout: 30_000 });
  await page.click('button[name=cancel]');
  const res = await refused;
  t.equal(res.status(), 403, `the viewer's Cancel is refused by the head (${res.request().method()} ${new URL(res.url()).pathname})`);
  t.equal((await api.get(job.id)).state, 'pending', 'and the job is untouched');

  const { code } = await head.tokens!.loginCode('admin');
  const b2 = await launchChromium(exe);
  t.teardown(() => b2.close());
  const p2 = await b2.context.newPage();
  await p2.goto(`${url}/login?code=${encodeURIComponent(code)}`);
  await p2.locator(`tr[data-job="${job.id}"]`).waitFor({ timeout: 60_000 });
  t.pass('the login link signs the browser in: the jobs show');
  t.equal(await p2.locator('#token-dialog[open]').count(), 0, 'without any token prompt');
  const cookies = await b2.context.cookies(url);
  t.ok(
    cookies.some((c) => c.httpOnly && c.sameSite === 'Strict'),
    'with an HttpOnly, SameSite=Strict session cookie',
  );

  const b3 = await launchChromium(exe);
  t.teardown(() => b3.close());
  const p3 = await b3.context.newPage();
  const again = await p3.goto(`${url}/login?code=${encodeURIComponent(code)}`);
  t.equal(again?.status(), 401, 'the same link used again is refused');
  t.same(errors, [], 'no uncaught errors in the page');
});
