/**
 * `flotilla tune` end to end: a study of 4 tiny YOLOv5 trials, 2 at a time, on two one-slot
 * agent processes. Every trial is an ordinary job tagged with the study, whose recorded spec
 * carries the sampled values and whose optimizer ran at the sampled lr0 (results.csv's x/lr0 of
 * epoch 0, warmup off, linear schedule: lr0 * lf(0) = lr0); every fitness is train.py's formula
 * over the trial's final results.csv row; evolve.csv and hyp_evolve.yaml are written.
 */
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Objm } from '@nats-io/obj';
import { parse, stringify } from 'yaml';
import { cli, startAgentProc } from '../head/helpers/procs.ts';
import { liveCluster } from './live-helpers.ts';
import { subjects } from '../../shared/subjects.ts';
import { lastResults } from '../../head/tune/outcome.ts';
import { fitness } from '../../head/tune/search.ts';

const TINY = fileURLToPath(new URL('../worker/fixtures/tiny-yolov5.yaml', import.meta.url));

t.test('a 4-trial evolve study of tiny YOLOv5 jobs, 2 at a time', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'flotilla-tune-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // setup (tfjs, the model) blocks an actor for seconds on a loaded machine
  const { c, nc, api } = await liveCluster(t, 'tu', { deadAfterMs: 20_000, paths: { models: dirname(TINY) } });
  await Promise.all([startAgentProc(t, c, 'a1', 1), startAgentProc(t, c, 'a2', 1)]);
  const study = {
    name: 'tiny',
    base: {
      checkpoint_every: 1000,
      trainer: {
        kind: 'yolov5',
        cfg: TINY,
        img: 64,
        epochs: 1,
        batch: 2,
        noautoanchor: true,
        synthetic: { train: 4, val: 2, seed: 3 },
        hyp: { warmup_epochs: 0 },
      },
    },
    space: { lr0: [0.001, 0.05], hsv_h: [0, 0.05] },
    method: 'evolve',
    trials: 4,
    concurrency: 2,
    seed: 1,
  };
  writeFileSync(join(dir, 'study.yaml'), stringify(study));
  const out = join(dir, 'out');
  const r = await cli(['tune', join(dir, 'study.yaml'), '--server', api.base, '--out', out, '--poll-ms', '500']);
  t.equal(r.code, 0, `flotilla tune exits 0 (${r.stderr.slice(-2000)})`);
  t.match(r.stdout, /best: trial \d \(job s\w+-t\d\) fitness /, 'prints the best trial');
  const id = /^study (s\w+):/m.exec(r.stdout)?.[1] ?? '';
  const st = await api.study(id);
  t.equal(st.state, 'succeeded', st.message ?? '');
  t.same(
    st.trials.map((x) => x.job_id),
    [0, 1, 2, 3].map((n) => `${id}-t${n}`),
    'four trials, one job each',
  );
  t.same(st.trials[0].hyp, { lr0: 0.01, hsv_h: 0.015 }, 'trial 0 trains the base hyperparameters (hyp.scratch-low)');
  t.ok(
    st.trials.slice(1).some((x) => x.hyp.lr0 !== 0.01),
    'later trials are mutations',
  );
  const os = async (job: string) => await new Objm(nc).open(subjects(c.prefix).jobStore(job, 'art'));
  for (const trial of st.trials) {
    const job = await api.get(trial.job_id);
    t.equal(job.study, id, `${trial.job_id} is tagged with its study`);
    t.equal(job.state, 'succeeded', `${trial.job_id} succeeded`);
    const hyp = (job.spec.trainer as { hyp: Record<string, number> }).hyp;
    t.same(
      { lr0: hyp.lr0, hsv_h: hyp.hsv_h, warmup_epochs: hyp.warmup_epochs },
      { ...trial.hyp, warmup_epochs: 0 },
      `${trial.job_id}: the recorded spec carries the sampled values`,
    );
    const csv = new TextDecoder().decode((await (await os(trial.job_id)).getBlob(`${trial.job_id}/results.csv`))!);
    const rows = csv
      .trim()
      .split('\n')
      .map((l) => l.split(',').map((x) => x.trim()));
    const lr = Number(rows[1][rows[0].indexOf('x/lr0')]);
    t.ok(
      Math.abs(lr - trial.hyp.lr0) <= 1e-4 * trial.hyp.lr0,
      `${trial.job_id}: the optimizer ran at the sampled lr0 (results.csv x/lr0 ${lr}, sampled ${trial.hyp.lr0})`,
    );
    t.same(
      trial.metrics,
      lastResults(csv),
      `${trial.job_id}: its metrics are its last results row (val losses ${trial.metrics?.val_box}, ${trial.metrics?.val_obj})`,
    );
    t.equal(
      trial.fitness,
      fitness(lastResults(csv)!),
      `${trial.job_id}: fitness ${trial.fitness} = 0.1 mAP@0.5 + 0.9 mAP@0.5:0.95 of its last results row`,
    );
  }
  const tagged = (await api.list()).filter((j) => (j as { study?: string }).study === id);
  t.equal(tagged.length, 4, 'no trial ran twice');
  const evolve = readFileSync(join(out, 'evolve.csv'), 'utf8').trim().split('\n');
  t.equal(evolve.length, 5, 'evolve.csv: a header and 4 rows');
  t.same(
    evolve[0]
      .split(',')
      .map((x) => x.trim())
      .slice(-2),
    ['lr0', 'hsv_h'],
    'the searched keys after the result columns',
  );
  t.same(
    evolve.slice(1).map((l) => Number(l.split(',')[7])),
    st.trials.map((x) => x.hyp.lr0),
    'one row per trial, its lr0',
  );
  t.match(
    readFileSync(join(out, 'evolve.svg'), 'utf8'),
    /^<svg[\s\S]*data-key="lr0"[\s\S]*data-key="hsv_h"[\s\S]*<\/svg>\n$/,
    'evolve.svg: a panel per searched key',
  );
  const best = st.trials[st.best!];
  t.equal(best.fitness, Math.max(...st.trials.map((x) => x.fitness ?? -1)), 'best is the highest fitness');
  t.match(
    parse(readFileSync(join(out, 'hyp_evolve.yaml'), 'utf8')),
    { ...best.hyp, warmup_epochs: 0 },
    'hyp_evolve.yaml holds the best trial over the base',
  );
});
