/**
 * Checks of a job spec that its schema cannot make: a YOLOv5 job's `trainer.data` / `trainer.cfg`
 * must be a built-in name or a path that resolves (symlinks aside) under the head's dataset /
 * model roots (`paths.datasets`, default ./datasets; `paths.models`, default ./models), so a
 * submitter cannot make workers open /etc/passwd. A job of more ranks than the autoscaler could
 * ever provide (max_workers x slots) is accepted (it may be scaled down) but waits with an explicit
 * `unschedulable: …` message instead of a silent forever.
 */
import { isAbsolute, relative, resolve } from 'node:path';
import { FlotillaError } from '../../shared/errors.ts';
import type { JobSpec } from '../../shared/schemas/job.ts';
import { targetProblems } from '../faults/record.ts';

/** The architecture names every worker has (worker/engine/model BUILTIN_CFGS). */
const BUILTIN_CFG = /^yolov5[nsmlx](\.ya?ml)?$/;

export interface SubmitLimits {
  /** roots a dataset / model path must lie under (default ./datasets, ./models of the head's cwd) */
  datasets: string;
  models: string;
  /** the most ranks the pool can ever hold, when the head knows it (an autoscaler's max_workers x slots) */
  maxRanks?: number;
}

function under(root: string, p: string): boolean {
  const rel = relative(resolve(root), resolve(root, p));
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
}

/** The pending message of a job the pool can never hold, or undefined. */
export function unschedulable(spec: JobSpec, l: SubmitLimits): string | undefined {
  const ranks = spec.min_workers ?? spec.workers;
  if (l.maxRanks === undefined || ranks <= l.maxRanks) return undefined;
  return `unschedulable: ${ranks} rank(s) can never be placed, the pool holds at most ${l.maxRanks} (max_workers x slots); scale the job down`;
}

/** Throws a 400 FLO_VALIDATION naming every field at fault. */
export function checkSubmit(spec: JobSpec, l: SubmitLimits): void {
  const bad: { field: string; message: string }[] = [];
  if (spec.trainer.kind === 'yolov5') {
    const { data, cfg } = spec.trainer;
    if (data !== 'synthetic' && !under(l.datasets, data))
      bad.push({ field: 'body.trainer.data', message: `must be "synthetic" or a path under the dataset root ${l.datasets}` });
    if (!BUILTIN_CFG.test(cfg) && !under(l.models, cfg))
      bad.push({
        field: 'body.trainer.cfg',
        message: `must be a built-in architecture (yolov5n/s/m/l/x.yaml) or a path under the model root ${l.models}`,
      });
  }
  bad.push(...targetProblems(spec.faults, spec.workers, (i) => `body.faults.${i}`));
  if (bad.length)
    throw new FlotillaError('FLO_VALIDATION', `invalid request: ${bad.map((b) => `${b.field}: ${b.message}`).join('; ')}`, {
      details: bad,
    });
}
