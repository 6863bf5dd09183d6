/**
 * A study's artifacts, rendered from its record (so a head restart loses none): evolve.csv as
 * train.py writes it (the seven result columns, then the searched keys; '%20s' / '%20.5g'
 * cells; one row per finished trial in trial order, a trial its hyperparameters failed with
 * zeros) and hyp_evolve.yaml (the best trial's hyperparameters over the base's, with train.py's
 * comment header), evolve.svg (plot.ts).
 */
import { stringify } from 'yaml';
import type { StudyRecord, TrialMetrics } from '../../shared/schemas/study.ts';
import { formatG } from '../../worker/engine/train/results-csv.ts';
import { basePoint, genesOf } from './space.ts';
import { loadHyp } from '../../worker/engine/hyp/index.ts';
import { evolveSvg } from './plot.ts';

export const EVOLVE_RESULT_KEYS = [
  'metrics/precision',
  'metrics/recall',
  'metrics/mAP_0.5',
  'metrics/mAP_0.5:0.95',
  'val/box_loss',
  'val/obj_loss',
  'val/cls_loss',
] as const;
export const STUDY_ARTIFACTS = ['evolve.csv', 'hyp_evolve.yaml', 'evolve.svg'] as const;
export type StudyArtifact = (typeof STUDY_ARTIFACTS)[number];

const ZERO: TrialMetrics = { precision: 0, recall: 0, map50: 0, map: 0, val_box: 0, val_obj: 0, val_cls: 0 };
const resultValues = (m: TrialMetrics) => [m.precision, m.recall, m.map50, m.map, m.val_box, m.val_obj, m.val_cls];

/** The trials evolve.csv holds: those with a fitness, in trial order. */
function rows(st: StudyRecord) {
  return st.trials.filter((t) => t.fitness !== null).sort((a, b) => a.n - b.n);
}

export function evolveCsv(st: StudyRecord): string {
  const keys = [...EVOLVE_RESULT_KEYS, ...genesOf(st.spec).map((g) => g.key)];
  const genes = genesOf(st.spec);
  const lines = [keys.map((k) => k.padStart(20)).join(',')];
  for (const t of rows(st))
    lines.push([...resultValues(t.metrics ?? ZERO), ...genes.map((g) => t.hyp[g.key])].map((v) => formatG(v).padStart(20)).join(','));
  return `${lines.join('\n')}\n`;
}

/** hyp_evolve.yaml, or null before any trial has a fitness. */
export function hypEvolveYaml(st: StudyRecord): string | null {
  const done = rows(st);
  if (!done.length) return null;
  const best = done.reduce((a, b) => ((b.fitness ?? 0) > (a.fitness ?? 0) ? b : a));
  const i = done.indexOf(best);
  const t = st.spec.base.trainer;
  const full: Record<string, number> = t.kind === 'yolov5' ? { ...loadHyp(undefined, t.hyp) } : basePoint(st.spec);
  const head = [
    '# YOLOv5 Hyperparameter Evolution Results',
    `# Best generation: ${i}`,
    `# Last generation: ${done.length - 1}`,
    `# ${EVOLVE_RESULT_KEYS.map((k) => k.padStart(20)).join(', ')}`,
    `# ${resultValues(best.metrics ?? ZERO)
      .map((v) => formatG(v).padStart(20))
      .join(', ')}`,
    `# study ${st.id}, trial ${best.n} (job ${best.job_id}), fitness ${formatG(best.fitness ?? 0)}`,
  ];
  return `${head.join('\n')}\n\n${stringify({ ...full, ...best.hyp })}`;
}

export function studyArtifact(st: StudyRecord, name: StudyArtifact): string | null {
  return name === 'evolve.csv' ? evolveCsv(st) : name === 'evolve.svg' ? evolveSvg(st) : hypEvolveYaml(st);
}
