/**
 * What an ended trial job means for its study. Succeeded: a YOLOv5 trial is scored from the
 * last row of its results.csv artifact (the final validation: P, R, mAP@0.5, mAP@0.5:0.95 and
 * the val losses), with train.py's fitness; a logreg trial from its final loss, fitness
 * 1 / (1 + loss). Failed because of its hyperparameters (NaN/Inf gradients, hyperparameters the
 * trainer refused, a non-finite result): the worst fitness, 0, and the search goes on. Failed
 * for any other reason (restarts exhausted, a lost node, …): an infrastructure failure, retried.
 * Cancelled: no fitness. A result that has not arrived yet is waited for a while (progress and
 * artifacts travel beside the exit that ends the job).
 */
import type { HeadJob } from '../state/job-store.ts';
import type { TrialMetrics } from '../../shared/schemas/study.ts';
import { fitness } from './search.ts';

export type TrialOutcome =
  | { kind: 'wait' }
  | { kind: 'scored'; fitness: number; metrics?: TrialMetrics }
  | { kind: 'hyp-failed'; message: string }
  | { kind: 'retry'; message: string }
  | { kind: 'cancelled'; message: string };

/** How long an ended trial's results may lag its end before it counts as having none. */
export const RESULT_GRACE_MS = 20_000;

/** Failure messages that blame the trial's hyperparameters, not the platform. */
export const HYP_FAILURE = /NaN or Inf|non-finite|invalid hyperparameters|diverg/i;

/** Every row of a results.csv (one per epoch) as the metrics of evolve.csv. */
export function resultRows(csv: string): TrialMetrics[] {
  const lines = csv.trim().split('\n');
  const head = lines[0].split(',').map((c) => c.trim());
  return lines.slice(1).map((l) => {
    const row = l.split(',').map((c) => Number(c.trim()));
    const col = (name: string) => row[head.indexOf(name)];
    return {
      precision: col('metrics/precision'),
      recall: col('metrics/recall'),
      map50: col('metrics/mAP_0.5'),
      map: col('metrics/mAP_0.5:0.95'),
      val_box: col('val/box_loss'),
      val_obj: col('val/obj_loss'),
      val_cls: col('val/cls_loss'),
    };
  });
}

/** The final row of a results.csv, or null when it has no row. */
export function lastResults(csv: string): TrialMetrics | null {
  return resultRows(csv).at(-1) ?? null;
}

export async function trialOutcome(
  job: HeadJob,
  endedForMs: number,
  artifact: (jobId: string, name: string) => Promise<string | null>,
): Promise<TrialOutcome> {
  const late = endedForMs > RESULT_GRACE_MS;
  if (job.state === 'cancelled') return { kind: 'cancelled', message: job.message ?? 'cancelled' };
  if (job.state === 'failed') {
    const why = job.message ?? 'failed';
    return HYP_FAILURE.test(why) ? { kind: 'hyp-failed', message: why } : { kind: 'retry', message: why };
  }
  const t = job.spec.trainer;
  if (t.kind === 'logreg') {
    const loss = job.metrics.loss;
    if ((loss === undefined || job.step < t.steps) && !late) return { kind: 'wait' };
    if (loss === undefined) return { kind: 'retry', message: 'the job succeeded but reported no final loss' };
    if (!Number.isFinite(loss)) return { kind: 'hyp-failed', message: `final loss ${loss}` };
    return { kind: 'scored', fitness: 1 / (1 + loss) };
  }
  const csv = await artifact(job.id, 'results.csv');
  const m = csv === null ? null : lastResults(csv);
  if (!m) return late ? { kind: 'retry', message: 'the job succeeded but stored no results.csv' } : { kind: 'wait' };
  const f = fitness(m);
  if (!Number.isFinite(f)) return { kind: 'hyp-failed', message: `final mAP is not finite (${m.map50}, ${m.map})` };
  return { kind: 'scored', fitness: f, metrics: m };
}
