/**
 * A study's genes and how a sampled point becomes a job: a YOLOv5 trial gets the values as
 * `trainer.hyp` overrides (the path every YOLOv5 job's hyperparameters take to the trainer:
 * worker/trainers/yolov5.ts loadHyp), a logreg trial as `trainer.lr`.
 */
import type { JobSpec } from '../../shared/schemas/job.ts';
import type { StudySpec } from '../../shared/schemas/study.ts';
import { metaOf } from '../../shared/tune-space.ts';
// the head reads the same hyp.scratch-low defaults the trainer starts from
import { loadHyp } from '../../worker/engine/hyp/index.ts';
import type { Gene, Point } from './search.ts';

export function genesOf(s: StudySpec): Gene[] {
  const meta = metaOf(s.base.trainer.kind);
  const space = s.space === 'yolov5' ? Object.fromEntries(Object.entries(meta).map(([k, m]) => [k, [m[1], m[2]] as const])) : s.space;
  return Object.entries(space).map(([key, [lower, upper]]) => ({ key, gain: meta[key][0], lower, upper }));
}

/** The base job's values of the searched keys (YOLOv5: hyp.scratch-low with the base's overrides). */
export function basePoint(s: StudySpec): Point {
  const t = s.base.trainer;
  const all: Record<string, number> = t.kind === 'yolov5' ? { ...loadHyp(undefined, t.hyp) } : { lr: t.lr };
  return Object.fromEntries(genesOf(s).map((g) => [g.key, all[g.key]]));
}

/** The trial's job: the base with the point applied. */
export function trialSpec(s: StudySpec, point: Point, label: string): JobSpec {
  const spec = structuredClone(s.base);
  spec.name = label.slice(0, 128);
  if (spec.trainer.kind === 'yolov5') spec.trainer.hyp = { ...spec.trainer.hyp, ...point };
  else if (point.lr !== undefined) spec.trainer.lr = point.lr;
  return spec;
}
