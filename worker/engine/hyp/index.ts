/** Hyperparameters as data: hyp.scratch-low by default, overridden key by key. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sourceDir } from '../../../shared/run-entry.ts';
import { parse } from 'yaml';
import { z } from 'zod';

export const Hyp = z
  .object({
    lr0: z.number(),
    lrf: z.number(),
    momentum: z.number(),
    weight_decay: z.number(),
    warmup_epochs: z.number(),
    warmup_momentum: z.number(),
    warmup_bias_lr: z.number(),
    box: z.number(),
    cls: z.number(),
    cls_pw: z.number(),
    obj: z.number(),
    obj_pw: z.number(),
    iou_t: z.number(),
    anchor_t: z.number(),
    fl_gamma: z.number(),
    hsv_h: z.number(),
    hsv_s: z.number(),
    hsv_v: z.number(),
    degrees: z.number(),
    translate: z.number(),
    scale: z.number(),
    shear: z.number(),
    perspective: z.number(),
    flipud: z.number(),
    fliplr: z.number(),
    mosaic: z.number(),
    mixup: z.number(),
    copy_paste: z.number(),
    /** label smoothing epsilon (train.py --label-smoothing, default 0) */
    label_smoothing: z.number().min(0).max(1).default(0),
  })
  .strict();
export type Hyp = z.infer<typeof Hyp>;

const SCRATCH_LOW = join(sourceDir(import.meta.url), 'scratch-low.yaml');

/** Loads a hyp yaml (default hyp.scratch-low) and applies overrides; unknown keys are errors. */
export function loadHyp(file: string = SCRATCH_LOW, overrides: Record<string, number> = {}): Hyp {
  const base = parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  const r = Hyp.safeParse({ ...base, ...overrides });
  if (!r.success) {
    throw new Error(`invalid hyperparameters (${file}): ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  return r.data;
}

/**
 * The hyp overrides with train.py's flags that write into hyp applied last:
 * `--label-smoothing EPS` sets hyp label_smoothing (train.py: hyp['label_smoothing'] = opt.label_smoothing).
 */
export function hypOverridesWith(overrides: Record<string, number> = {}, flags: { labelSmoothing?: number } = {}): Record<string, number> {
  return { ...overrides, ...(flags.labelSmoothing === undefined ? {} : { label_smoothing: flags.labelSmoothing }) };
}
