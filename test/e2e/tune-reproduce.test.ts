/**
 * The best hyp yaml reproduces its trial when re-run: a random-search study of two tiny YOLOv5
 * trials (so the best trial's values are sampled, not the base's), then a plain job of the
 * study's base spec with `trainer.hyp` set to the whole hyperparameter set of the study's
 * hyp_evolve.yaml. On the CPU backend training is bit-reproducible (docs/limits.md,
 * Reproducibility), so the re-run's final training state has the same SHA-256 as the best
 * trial's, its last results.csv row equals the trial's recorded metrics value for value, and
 * its fitness equals the trial's exactly. Fitness of tiny trials is often 0 (mAP 0 after two
 * epochs), which is why the digest and the val losses are compared too.
 */
import t from 'tap';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Objm } from '@nats-io/obj';
import { parse } from 'yaml';
import { startAgentProc } from '../head/helpers/procs.ts';
import { until } from '../head/helpers/wait.ts';
import { liveCluster } from './live-helpers.ts';
import { subjects } from '../../shared/subjects.ts';
import { lastResults } from '../../head/tune/outcome.ts';
import { fitness } from '../../head/tune/search.ts';

const TINY = fileURLToPath(new URL('../worker/fixtures/tiny-yolov5.yaml', import.meta.url));

t.test("hyp_evolve.yaml re-run as a job reproduces the best trial's fitness and final state", async (t) => {
  const { c, nc, api } = await liveCluster(t, 'rp', { deadAfterMs: 20_000, paths: { models: dirname(TINY) } });
  await Promise.all([startAgentProc(t, c, 'a1', 1), startAgentProc(t, c, 'a2', 1)]);
  const base = {
    checkpoint_every: 1000,
    trainer: {
      kind: 'yolov5' as const,
      cfg: TINY,
      img: 64,
      epochs: 2,
      batch: 2,
      noautoanchor: true,
      synthetic: { train: 4, val: 2, seed: 3 },
      hyp: { warmup_epochs: 0 },
    },
  };
  const st0 = await api.startStudy({
    name: 'reproduce',
    base,
    space: { lr0: [0.001, 0.05], box: [0.02, 0.2], obj: [0.2, 4.0], hsv_h: [0, 0.05] },
    method: 'random',
    trials: 2,
    concurrency: 2,
    seed: 5,
  });
  const st = await until(
    'the study ended',
    async () => {
      const s = await api.study(st0.id);
      return s.state !== 'running' && s;
    },
    900_000,
  );
  t.equal(st.state, 'succeeded', st.message ?? '');
  const best = st.trials[st.best!];
  t.equal(best.state, 'succeeded', `best: trial ${best.n}, fitness ${best.fitness}, values ${JSON.stringify(best.hyp)}`);
  const yaml = parse(await api.studyArtifact(st.id, 'hyp_evolve.yaml')) as Record<string, number>;
  t.match(yaml, { ...best.hyp, warmup_epochs: 0 }, "the yaml holds the best trial's sampled values over the base");
  t.ok(Object.keys(yaml).length > Object.keys(best.hyp).length + 1, `and the whole hyperparameter set (${Object.keys(yaml).length} keys)`);

  const job0 = await api.submit({ ...base, name: 'rerun of the best', trainer: { ...base.trainer, hyp: yaml } });
  const job = await until(
    'the re-run ended',
    async () => {
      const j = await api.get(job0.id);
      return ['succeeded', 'failed', 'cancelled'].includes(j.state) && j;
    },
    600_000,
  );
  t.equal(job.state, 'succeeded', job.message ?? '');
  const trialJob = await api.get(best.job_id);
  t.ok(job.final_digest, `the re-run reports its final state's digest (${job.final_digest})`);
  t.equal(job.final_digest, trialJob.final_digest, "the re-run ends in the best trial's final training state, bit for bit");
  const other = await api.get(st.trials[1 - best.n].job_id);
  t.not(other.final_digest, trialJob.final_digest, "the other trial's values end elsewhere (the digest tells values apart)");
  const os = await new Objm(nc).open(subjects(c.prefix).jobStore(job.id, 'art'));
  const csv = new TextDecoder().decode((await os.getBlob(`${job.id}/results.csv`))!);
  const m = lastResults(csv)!;
  t.same(m, best.metrics, `its last results row equals the trial's (val losses ${m.val_box}, ${m.val_obj}, ${m.val_cls})`);
  t.equal(fitness(m), best.fitness, `its fitness equals the best trial's (${best.fitness})`);
});
