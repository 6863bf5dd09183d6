/**
 * The namespace kit leaves no host behind: a process that built a lab and ends without
 * teardown() (SIGTERM as CI sends, SIGINT as Ctrl-C, an uncaught exception, a plain exit) has
 * deleted its namespaces, bridge, veths, /etc/netns dirs and marker, and killed what ran in
 * them; what a SIGKILLed one left is removed by the sweep the next lab runs at its start.
 */
import t, { type Test } from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { netnsUnavailable, sweepStale } from './netns.ts';
import { until } from '../head/helpers/wait.ts';

const CHILD = join(import.meta.dirname, 'fixtures', 'netns-child.ts');

/** What of lab `id` exists now: namespaces, links, /etc/netns dirs, markers. */
function leftovers(id: string): string[] {
  const out: string[] = [];
  for (const l of spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout.split('\n'))
    if (l.startsWith(`fl${id}-`)) out.push(`netns ${l.split(' ')[0]}`);
  for (const l of spawnSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' }).stdout.split('\n')) {
    const name = /^\d+: ([^@:]+)/.exec(l)?.[1] ?? '';
    if (new RegExp(`^fl[bvm]${id}`).test(name)) out.push(`link ${name}`);
  }
  if (existsSync('/etc/netns')) for (const d of readdirSync('/etc/netns')) if (d.startsWith(`fl${id}-`)) out.push(`/etc/netns/${d}`);
  if (existsSync('/run/flotilla-labs')) for (const f of readdirSync('/run/flotilla-labs')) if (f.includes(id)) out.push(`marker ${f}`);
  return out;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Starts the child in `mode`; resolves once its lab is built, with the lab id and the pid running in it. */
async function buildLab(t: Test, mode: string) {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, mode], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let out = '';
  let err = '';
  child.stderr.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
    child.once('exit', (code, signal) => r({ code, signal })),
  );
  const ready = await new Promise<RegExpExecArray>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /READY ([0-9a-f]{4}) (\d+)/.exec(out);
      if (m) resolve(m);
    });
    void exited.then(() => reject(new Error(`the child ended before its lab was built: ${err.slice(-2000)}`)));
  });
  const id = ready[1]!;
  const pid = Number(ready[2]);
  t.ok(leftovers(id).filter((x) => x.startsWith('netns')).length === 3, `lab ${id} built: 3 namespaces (precondition)`);
  t.ok(alive(pid), 'and a process running in one');
  return { child, id, pid, exited };
}

async function assertClean(t: Test, id: string, pid: number): Promise<void> {
  const left = leftovers(id);
  t.same(left, [], `nothing of lab ${id} is left${left.length ? `: ${left.join(', ')}` : ''}`);
  await until(`the process in the lab (${pid}) is gone`, () => !alive(pid), 10_000).then(
    () => t.pass('the process in the lab was killed'),
    (e: Error) => t.fail(e.message),
  );
}

const why = netnsUnavailable();
t.test('the namespace kit cleans up after its process', { skip: why ? `namespace cleanup tests skipped: ${why}` : false }, async (t) => {
  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    await t.test(`${sig}`, async (t) => {
      const { child, id, pid, exited } = await buildLab(t, 'wait');
      child.kill(sig);
      const end = await exited;
      t.equal(end.signal, sig, `the process still ends by the signal (${JSON.stringify(end)})`);
      await assertClean(t, id, pid);
    });
  }
  await t.test('an uncaught exception', async (t) => {
    const { id, pid, exited } = await buildLab(t, 'throw');
    const end = await exited;
    t.equal(end.code, 1, 'the process fails as it would have');
    await assertClean(t, id, pid);
  });
  await t.test('a plain exit without teardown()', async (t) => {
    const { id, pid, exited } = await buildLab(t, 'exit');
    t.equal((await exited).code, 0);
    await assertClean(t, id, pid);
  });
  await t.test('SIGKILL: no handler runs, the next sweep removes it', async (t) => {
    const { child, id, pid, exited } = await buildLab(t, 'wait');
    child.kill('SIGKILL');
    await exited;
    t.ok(leftovers(id).length > 0, `a SIGKILLed process leaves its lab (${leftovers(id).length} parts)`);
    t.ok(sweepStale().includes(id), 'the sweep (run by every new Lab) names it');
    await assertClean(t, id, pid);
  });
});
