/**
 * CLI progress: `flotilla logs -f` on a real pseudo-terminal (util-linux `script`) draws a
 * cli-progress bar with the step, total and ETA, and through a pipe prints plain lines without
 * escape codes; `status` prints tables; cancel/scale/status take --json. Against a real
 * nats-server, head and worker agent; `train` on a tiny synthetic set.
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startDashboardCluster } from '../dashboard/cluster.ts';
import { until } from '../head/helpers/wait.ts';
import { ROOT } from '../head/helpers/procs.ts';
import { TotalEstimate, formatDuration } from '../../bin/cli/progress.ts';

const run = promisify(execFile);
const SCRIPT = '/usr/bin/script';

t.test('the total of an epoch-based run is estimated from two epoch starts', async (t) => {
  const e = new TotalEstimate();
  // 10 epochs of 4 steps: steps 1..40, epoch k starts at step 4k + 1
  t.same(e.total({ step: 1, epoch: 0, epochs: 10 }), { exact: false }, 'one epoch start: unknown');
  t.same(e.total({ step: 3, epoch: 0, epochs: 10 }), { exact: false });
  t.same(e.total({ step: 5, epoch: 1, epochs: 10 }), { total: 40, exact: false });
  t.same(e.total({ step: 9, epoch: 2, epochs: 10 }), { total: 40, exact: false });
  t.same(e.total({ step: 9, totalSteps: 50 }), { total: 50, exact: true }, 'an exact total wins');
  t.equal(formatDuration(59.6), '1m00s');
  t.equal(formatDuration(3725), '1h02m');
  t.equal(formatDuration(Infinity), '?');
});

t.test('logs -f: a bar on a terminal, plain lines in a pipe; status tables; --json', async (t) => {
  const cluster = await startDashboardCluster(1, 1);
  t.teardown(() => cluster.stop());
  const { api, url } = cluster;
  await until('the worker registered', async () => (await api.workers()).length === 1, 120_000);
  const job = await api.submit({ name: 'bar-logreg', trainer: { kind: 'logreg', steps: 30, step_delay_ms: 20 } });
  const cli = ['bin/flotilla.mjs', 'logs', '-f', job.id, '--server', url];
  const env = { ...process.env, FLOTILLA_PROGRESS: '1' };

  if (!existsSync(SCRIPT)) t.comment('skipping the terminal half: no /usr/bin/script (util-linux bsdutils)');
  else {
    // script(1) gives the command a real pty; its output is what a terminal would receive.
    const cmd = [process.execPath, ...cli].map((a) => `'${a}'`).join(' ');
    const tty = await run(SCRIPT, ['-qfec', cmd, '/dev/null'], { cwd: ROOT, env, timeout: 180_000, maxBuffer: 16 << 20 });
    t.match(tty.stdout, /\u001b\[/, 'escape codes: the bar redraws in place');
    t.match(tty.stdout, /█/, 'the bar itself');
    t.match(tty.stdout, /bar-logreg \| step 30\/30 \| ETA \d+s \| loss \d/, 'label, step/total, ETA and loss on the bar');
    t.match(tty.stdout, /state succeeded/, 'state events print above the bar');
    t.notMatch(tty.stdout, /^\s+\d+ \S+ g0 step \d+ loss=/m, 'no plain metric lines on a terminal');
  }
  const piped = await run(process.execPath, cli, { cwd: ROOT, env, timeout: 60_000 });
  t.notMatch(piped.stdout, /\u001b/, 'no escape codes through a pipe');
  t.match(piped.stdout, /g0 step 30 loss=/, 'a plain line per metric through a pipe');
  t.match(piped.stdout, /state succeeded/);

  const st = await run(process.execPath, ['bin/flotilla.mjs', 'status', '--server', url], { cwd: ROOT, timeout: 60_000 });
  t.match(st.stdout, new RegExp(`^${job.id}\\s+bar-logreg\\s+succeeded\\s+logreg\\s+\\d/1\\s+30/30\\s`, 'm'), 'status: a row per job');
  t.match(st.stdout, /^WORKER\s+HOST\s+BACKEND/m, 'status: the workers table');
  const sj = JSON.parse(
    (await run(process.execPath, ['bin/flotilla.mjs', 'status', '--json', '--server', url], { cwd: ROOT, timeout: 60_000 })).stdout,
  );
  t.equal(sj.jobs[0].id, job.id, 'status --json lists the job');
  const queued = await api.submit({ workers: 5, trainer: { kind: 'logreg', steps: 3 } });
  const sc = JSON.parse(
    (await run(process.execPath, ['bin/flotilla.mjs', 'scale', queued.id, '2', '--json', '--server', url], { cwd: ROOT, timeout: 60_000 }))
      .stdout,
  );
  t.equal(sc.spec.workers, 2, 'scale --json returns the record');
  const cc = JSON.parse(
    (await run(process.execPath, ['bin/flotilla.mjs', 'cancel', queued.id, '--json', '--server', url], { cwd: ROOT, timeout: 60_000 }))
      .stdout,
  );
  t.equal(cc.id, queued.id, 'cancel --json returns the record');
});

t.test('train: a bar on a terminal; train --json and val --json print one result object', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'flotilla-train-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const train = [
    'bin/flotilla.mjs',
    'train',
    '--data',
    'synthetic',
    '--img',
    '64',
    '--epochs',
    '2',
    '--batch',
    '8',
    '--synth-train',
    '16',
    '--synth-val',
    '8',
    '--project',
    dir,
  ];
  const env = { ...process.env, FLOTILLA_PROGRESS: '1' };
  const js = await run(process.execPath, [...train, '--name', 'json', '--json'], { cwd: ROOT, env, timeout: 300_000 });
  const r = JSON.parse(js.stdout.trim().split('\n').at(-1)!);
  t.equal(r.epochsRun, 2, 'train --json: epochs run');
  t.ok(existsSync(join(r.saveDir, 'weights', 'last.ckpt')), 'train --json: the run directory it names has last.ckpt');
  t.type(r.metrics.map50, 'number', 'train --json: final metrics');
  t.ok(
    existsSync(join(r.saveDir, 'results.png')) && existsSync(join(r.saveDir, 'labels.jpg')),
    'train: the run directory has the pictures',
  );
  const v = JSON.parse(
    (
      await run(
        process.execPath,
        ['bin/flotilla.mjs', 'val', '--weights', join(r.saveDir, 'weights', 'last.ckpt'), '--json', '--project', join(dir, 'val')],
        { cwd: ROOT, env, timeout: 300_000 },
      )
    ).stdout.trim(),
  );
  t.match(v, { images: 8, precision: Number, recall: Number, map50: Number, map: Number }, 'val --json: the metrics');
  t.ok(
    v.pictures.includes(join(dir, 'val', 'exp', 'confusion_matrix.png')) && v.pictures.every((p: string) => existsSync(p)),
    `val: the pictures it names exist (${v.pictures.length})`,
  );
  if (!existsSync(SCRIPT)) {
    t.comment('skipping the terminal half: no /usr/bin/script');
    return;
  }
  const cmd = [process.execPath, ...train, '--name', 'tty'].map((a) => `'${a}'`).join(' ');
  const tty = await run(SCRIPT, ['-qfec', cmd, '/dev/null'], { cwd: ROOT, env, timeout: 300_000, maxBuffer: 16 << 20 });
  t.match(tty.stdout, /train \| epoch 2\/2 \| step 4\/4 \| ETA \d+s \| box \d/, 'the bar: epoch, step of the total, ETA, losses');
  // the bar writes each batch of lines after clearing its own line (ESC[2K), or after the line before it
  t.match(tty.stdout, /(^|\x1b\[2K)\s+1\/1\s+\d/m, 'the epoch table prints above it');
});
