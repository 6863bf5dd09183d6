/**
 * npm run bench:tune — a study's throughput (docs/tune.md): the same study (--trials logreg
 * trials of --steps steps, --step-delay-ms each, seed fixed) on W one-slot local agents with
 * concurrency W, for each W of --workers (default 1,2,4; W = 1 is the trials one after
 * another). Per W: wall time from POST to the study's end, trials per hour, and slot
 * utilisation = the trials' running time (each job's first `running` state event to its end,
 * from its event stream) / (W x wall). A benchmark, not a test: it prints numbers and the
 * machine's load average; it asserts nothing.
 */
import { spawn } from 'node:child_process';
import { loadavg } from 'node:os';
import { startNatsServer } from '../head/embedded-nats.ts';
import { startHead } from '../head/head.ts';
import { HeadClient } from '../bin/cli/client.ts';
import { silentLogger } from '../shared/logger.ts';
import { REPO_ROOT } from '../worker/agent/start.ts';
import { flag, numFlag } from './args.ts';

const argv = process.argv.slice(2);
const trials = numFlag(argv, 'trials', 8);
const steps = numFlag(argv, 'steps', 20);
const delay = numFlag(argv, 'step-delay-ms', 100);
const widths = (flag(argv, 'workers') || '1,2,4').split(',').map(Number);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const nats = await startNatsServer({ auth: true });
const rows: Array<{ workers: number; wall_s: number; trials_per_hour: number; utilisation: number; load: number }> = [];
try {
  for (const w of widths) {
    const prefix = `bt_${Math.random().toString(36).slice(2, 8)}`;
    const { natsRevoker: _r, ...headAuth } = nats.auth!.headOptions;
    const head = await startHead({ natsUrl: nats.url, prefix, ...headAuth, port: 0, log: silentLogger() });
    const agents = await Promise.all(
      Array.from({ length: w }, async (_, i) => {
        const proc = spawn(process.execPath, ['--import', 'tsx', 'worker/agent/main.ts'], {
          cwd: REPO_ROOT,
          stdio: ['ignore', 'ignore', 'inherit'],
          env: {
            ...process.env,
            FLOTILLA_NATS_URL: nats.url,
            FLOTILLA_PREFIX: prefix,
            FLOTILLA_NODE_ID: `b${i}`,
            FLOTILLA_SLOTS: '1',
            FLOTILLA_WARM_ACTORS: '1',
            FLOTILLA_LOG_LEVEL: 'error',
            FLOTILLA_JOIN_TOKEN: await nats.auth!.joinToken(prefix, `b${i}`),
          },
        });
        return { proc, exited: new Promise<void>((r) => proc.once('exit', () => r())) };
      }),
    );
    try {
      const api = new HeadClient(head.url);
      while (!((await api.workers()).filter((x) => (x.warm?.ready ?? 0) >= 1).length === w)) await sleep(200);
      const t0 = Date.now();
      const st0 = await api.startStudy({
        base: { trainer: { kind: 'logreg', steps, step_delay_ms: delay, features: 4 } },
        space: { lr: [0.05, 1] },
        trials,
        concurrency: w,
        seed: 1,
      });
      let st = st0;
      while (st.state === 'running') {
        await sleep(200);
        st = await api.study(st0.id);
      }
      const wall = (Date.now() - t0) / 1000;
      let busy = 0;
      for (const t of st.trials) {
        let from = 0;
        let to = 0;
        for await (const { event: e } of api.events(t.job_id, { follow: false })) {
          if (e.type === 'state' && e.state === 'running' && !from) from = e.ts;
          if (e.type === 'state' && ['succeeded', 'failed', 'cancelled'].includes(e.state)) to = e.ts;
        }
        if (from && to) busy += (to - from) / 1000;
      }
      rows.push({
        workers: w,
        wall_s: Number(wall.toFixed(1)),
        trials_per_hour: Math.round((trials / wall) * 3600),
        utilisation: Number((busy / (w * wall)).toFixed(2)),
        load: Number(loadavg()[0].toFixed(1)),
      });
      console.log(JSON.stringify(rows.at(-1)));
    } finally {
      for (const a of agents) {
        a.proc.kill('SIGTERM');
        await a.exited;
      }
      await head.stop();
    }
  }
} finally {
  await nats.stop();
}
const base = rows.find((r) => r.workers === 1);
console.log(
  `\n| workers (= concurrency) | wall s | trials/hour | vs one after another | slot utilisation | load avg |\n|---|---|---|---|---|---|`,
);
for (const r of rows)
  console.log(
    `| ${r.workers} | ${r.wall_s} | ${r.trials_per_hour} | ${base ? `${(base.wall_s / r.wall_s).toFixed(2)}x` : '-'} | ${r.utilisation} | ${r.load} |`,
  );
console.log(
  `\n${trials} logreg trials of ${steps} steps x ${delay} ms, one-slot agents with one warm actor each, on ${process.platform} (${loadavg()[0].toFixed(1)} load)`,
);
