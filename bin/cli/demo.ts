/**
 * `flotilla demo`: the main job, end to end on one machine. Starts an embedded nats-server, the
 * head and N local worker agents, submits a YOLOv5 job on the built-in synthetic set over REST,
 * follows its events, prints the final P, R, mAP@0.5 and mAP@0.5:0.95, then stops everything.
 */
import { z } from 'zod';
import { createLogger } from '../../shared/logger.ts';
import { TERMINAL_STATES, type JobSpecInput } from '../../shared/schemas/job.ts';
import { startNatsServer } from '../../head/embedded-nats.ts';
import { startHead } from '../../head/head.ts';
import { LocalProvider } from '../../head/autoscaler/provider-local.ts';
import { coreShareEnv } from '../../worker/agent/index.ts';
import { HeadClient } from './client.ts';
import { defineCommand, flag, parse } from './parse.ts';
import { progressBar, tickOfMetric, wantsBar, type ProgressView } from './progress.ts';

export const spec = defineCommand({
  name: 'demo',
  flags: z.object({
    workers: flag.int('N', 'worker agents and trainer ranks (default 2)', 0),
    cfg: flag.str('YAML', 'model (default yolov5n.yaml)'),
    img: flag.int('PX', 'image size, a multiple of 32 (default 128)', 0),
    epochs: flag.int('N', 'epochs (default 30)', 0),
    batch: flag.int('B', 'total batch over all ranks (default 16)', 0),
    train: flag.int('N', 'synthetic training images (default 128)', 0),
    val: flag.int('N', 'synthetic validation images (default 32)', 0),
    seed: flag.int('S', 'seed of the data and the model (default 0)', 0),
    port: flag.int('P', 'head HTTP port (default: a free port)', 0, 65535),
    json: flag.bool('print only the final result as JSON (job, state, seconds, precision, recall, map50, map)'),
    'no-progress': flag.bool('plain lines even on a terminal (also FLOTILLA_PROGRESS=0)'),
    insecure: flag.bool('REST without authentication (default: an admin token is made and used)'),
    verbose: flag.bool('head and worker logs on stdout'),
  }),
});

/**
 * Settings that let a from-scratch YOLOv5n learn the synthetic shapes in a few minutes of CPU:
 * no warmup, a higher lr, no mosaic, an optimizer step every 16 images (nbs 16), and larger box
 * and objectness gains (train.py scales obj by (img/640)², which starves it at 128 px).
 */
export const DEMO_HYP = { warmup_epochs: 0, lr0: 0.05, obj: 5, box: 0.2, mosaic: 0 };

export async function run(argv: string[]): Promise<number> {
  const p = parse(spec, argv);
  if (!p.ok) return p.exit;
  const values = p.flags;
  const workers = Math.max(1, values.workers ?? 2);
  const seed = values.seed ?? 0;
  const jobSpec: JobSpecInput = {
    name: 'demo-yolov5',
    workers,
    checkpoint_every: 20,
    trainer: {
      kind: 'yolov5',
      cfg: values.cfg ?? 'yolov5n.yaml',
      data: 'synthetic',
      img: values.img ?? 128,
      epochs: values.epochs ?? 30,
      batch: values.batch ?? 16,
      nbs: 16,
      hyp: DEMO_HYP,
      synthetic: { train: values.train ?? 128, val: values.val ?? 32, seed },
      seed,
    },
  };
  const prefix = 'flotilla';
  const log = createLogger({ role: 'head', level: values.verbose ? 'info' : 'warn' });
  const nats = await startNatsServer();
  const stops: (() => Promise<void>)[] = [() => nats.stop()];
  const stopAll = async () => {
    for (const s of stops.reverse()) await s().catch(() => undefined);
  };
  const ac = new AbortController();
  const onSig = () => ac.abort();
  process.once('SIGINT', onSig);
  process.once('SIGTERM', onSig);
  // On a terminal the steps drive a bar and the other lines print above it; --json prints only the result.
  let bar: ProgressView | undefined;
  const say = (line: string) => {
    if (values.json) return;
    if (bar) bar.line(line);
    else console.log(line);
  };
  try {
    const head = await startHead({
      restAuth: !values.insecure,
      natsUrl: nats.url,
      natsCreds: nats.auth?.headCreds,
      natsSigningKey: nats.auth?.signingKey,
      natsRevoker: nats.auth?.revoker,
      prefix,
      host: '127.0.0.1',
      port: values.port ?? 0,
      log,
      autoscaler: {
        provider: new LocalProvider({
          natsUrl: nats.url,
          prefix,
          slots: 1,
          output: values.verbose ? 'inherit' : 'ignore',
          env: coreShareEnv(workers),
        }),
        minWorkers: workers,
        maxWorkers: workers,
        slotsPerWorker: 1,
        namePrefix: 'demo',
      },
    });
    stops.push(() => head.stop());
    say(`flotilla demo: nats ${nats.url}, head ${head.url}, ${workers} local worker(s)`);
    if (head.firstAdminToken) say(`flotilla token: ${head.firstAdminToken}`);
    else if (!head.tokens) say('flotilla demo: WARNING: authentication is off (--insecure)');
    const client = new HeadClient(head.url, head.firstAdminToken);
    const job = await client.submit(jobSpec);
    say(`submitted job ${job.id}: ${JSON.stringify(jobSpec.trainer)}`);
    if (!values.json && !values['no-progress'] && wantsBar()) bar = progressBar('demo');
    const t0 = Date.now();
    let final: Record<string, number> | undefined;
    let lastEpochPrinted = -1;
    for await (const { event: e } of client.events(job.id, { follow: true, signal: ac.signal })) {
      const secs = ((Date.now() - t0) / 1000).toFixed(0).padStart(4);
      if (e.type === 'metric') bar?.tick(tickOfMetric(job.spec, e));
      if (e.type === 'state') say(`[${secs}s] state ${e.state}${e.message ? `: ${e.message}` : ''} (generation ${e.generation})`);
      else if (e.type === 'log' && e.level !== 'debug') say(`[${secs}s] ${e.level} rank ${e.rank ?? '-'}: ${e.msg}`);
      else if (e.type === 'metric' && 'map50' in e.values) final = e.values;
      else if (e.type === 'metric' && e.epoch !== undefined && e.epoch !== lastEpochPrinted) {
        lastEpochPrinted = e.epoch;
        const v = e.values;
        say(`[${secs}s] epoch ${e.epoch} step ${e.step}: box ${v.box?.toFixed(4)} obj ${v.obj?.toFixed(4)} cls ${v.cls?.toFixed(4)}`);
      }
    }
    bar?.stop();
    bar = undefined;
    const done = await client.get(job.id);
    const seconds = Math.round((Date.now() - t0) / 1000);
    if (values.json) {
      console.log(
        JSON.stringify({
          job: done.id,
          state: done.state,
          seconds,
          step: done.step,
          restarts: done.restarts,
          message: done.message,
          precision: final?.precision,
          recall: final?.recall,
          map50: final?.map50,
          map: final?.map,
        }),
      );
      return done.state === 'succeeded' && final ? 0 : 1;
    }
    console.log(
      `job ${done.id} ${done.state} after ${((Date.now() - t0) / 1000).toFixed(0)} s, step ${done.step}, restarts ${done.restarts}`,
    );
    if (!TERMINAL_STATES.includes(done.state)) {
      console.log('interrupted');
      return 130;
    }
    if (done.state !== 'succeeded' || !final) {
      console.error(`the job did not succeed: ${done.message ?? 'no final metrics'}`);
      return 1;
    }
    const f = (x: number | undefined) => (x ?? NaN).toFixed(3).padStart(11);
    console.log(`${'P'.padStart(11)}${'R'.padStart(11)}${'mAP50'.padStart(11)}${'mAP50-95'.padStart(11)}`);
    console.log(`${f(final.precision)}${f(final.recall)}${f(final.map50)}${f(final.map)}`);
    console.log(`mAP@0.5 = ${final.map50.toFixed(4)}  mAP@0.5:0.95 = ${final.map.toFixed(4)}`);
    return 0;
  } finally {
    bar?.stop();
    process.off('SIGINT', onSig);
    process.off('SIGTERM', onSig);
    await stopAll();
  }
}
