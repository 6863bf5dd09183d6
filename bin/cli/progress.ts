/**
 * Training progress for the CLI: on a terminal, one cli-progress bar (epoch, step/total, ETA,
 * current losses) with other output printed above it; elsewhere (pipes, CI) no bar at all and
 * the caller keeps printing its plain lines. The total is exact when the caller knows it
 * (`flotilla train`, logreg jobs) and otherwise estimated from the steps of the first epoch
 * (shown with "≈"); the ETA is the remaining steps at the average rate since the view began.
 */
import cliProgress from 'cli-progress';
import type { JobSpec } from '../../shared/schemas/job.ts';
import type { JobEvent } from '../../shared/schemas/event.ts';

export interface ProgressTick {
  step: number;
  /** exact number of steps, when known */
  totalSteps?: number;
  /** 0-based epoch, with the number of epochs */
  epoch?: number;
  epochs?: number;
  /** current losses (box/obj/cls, loss …), shown with 4 significant digits */
  losses?: Record<string, number>;
}

export interface ProgressView {
  tick(t: ProgressTick): void;
  /** prints a line above the bar */
  line(text: string): void;
  stop(): void;
}

/** Whether to draw a bar: stdout is a terminal and FLOTILLA_PROGRESS is not 0 (CI sets no TTY anyway). */
export function wantsBar(stream: NodeJS.WriteStream = process.stdout, env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(stream.isTTY) && env.FLOTILLA_PROGRESS !== '0';
}

export function formatDuration(s: number): string {
  if (!Number.isFinite(s) || s < 0) return '?';
  const r = Math.round(s);
  if (r < 60) return `${r}s`;
  if (r < 3600) return `${Math.floor(r / 60)}m${String(r % 60).padStart(2, '0')}s`;
  return `${Math.floor(r / 3600)}h${String(Math.floor((r % 3600) / 60)).padStart(2, '0')}m`;
}

/** Estimates the total steps of an epoch-based run from where each epoch began. */
export class TotalEstimate {
  #firstStepOfEpoch = new Map<number, number>();
  total(t: ProgressTick): { total?: number; exact: boolean } {
    if (t.totalSteps !== undefined) return { total: t.totalSteps, exact: true };
    if (t.epoch === undefined || t.epochs === undefined) return { exact: false };
    if (!this.#firstStepOfEpoch.has(t.epoch)) this.#firstStepOfEpoch.set(t.epoch, t.step);
    const epochs = [...this.#firstStepOfEpoch.keys()].sort((a, b) => a - b);
    // Two epoch starts seen: steps per epoch is their distance over the epochs between them.
    if (epochs.length < 2) return { exact: false };
    const [a, b] = [epochs[0], epochs[epochs.length - 1]];
    const per = (this.#firstStepOfEpoch.get(b)! - this.#firstStepOfEpoch.get(a)!) / (b - a);
    // the first step of epoch a plus per steps for each remaining epoch, less one (that first step)
    return per > 0 ? { total: Math.round(this.#firstStepOfEpoch.get(a)! + per * (t.epochs - a) - 1), exact: false } : { exact: false };
  }
}

/** One bar on `stream` (a TTY). */
export function progressBar(label: string, stream: NodeJS.WriteStream = process.stdout): ProgressView {
  const est = new TotalEstimate();
  let start: { at: number; step: number } | undefined;
  let stopped = false;
  const multi = new cliProgress.MultiBar(
    {
      stream,
      hideCursor: true,
      clearOnComplete: false,
      stopOnComplete: false,
      fps: 5,
      barsize: 24,
      linewrap: false,
      format: (options, params, payload: { text: string }) => `${cliProgress.Format.BarFormat(params.progress, options)} ${payload.text}`,
    },
    cliProgress.Presets.shades_classic,
  );
  const bar = multi.create(1, 0, { text: `${label} starting…` });
  return {
    tick(t) {
      const now = Date.now();
      start ??= { at: now, step: t.step };
      const { total, exact } = est.total(t);
      const rate = (t.step - start.step) / Math.max(1e-3, (now - start.at) / 1000);
      const eta = total !== undefined && rate > 0 ? formatDuration((total - t.step) / rate) : '?';
      const parts = [label];
      if (t.epoch !== undefined) parts.push(`epoch ${t.epoch + 1}${t.epochs ? `/${t.epochs}` : ''}`);
      parts.push(`step ${t.step}${total !== undefined ? `/${exact ? '' : '≈'}${total}` : ''}`, `ETA ${eta}`);
      if (t.losses)
        parts.push(
          Object.entries(t.losses)
            .map(([k, v]) => `${k} ${Number(v.toPrecision(4))}`)
            .join(' '),
        );
      bar.setTotal(Math.max(1, total ?? t.step + 1));
      bar.update(Math.min(t.step, total ?? t.step), { text: parts.join(' | ') });
    },
    line(text) {
      if (stopped) stream.write(`${text}\n`);
      else multi.log(`${text}\n`);
    },
    // update() first: it writes the lines still buffered for the next redraw, which stop() would drop
    stop() {
      if (stopped) return;
      stopped = true;
      multi.update();
      multi.stop();
    },
  };
}

const LOSS_KEYS = ['box', 'obj', 'cls', 'loss'] as const;

/** A job's metric event as a tick: logreg jobs know their steps, YOLOv5 jobs their epochs. */
export function tickOfMetric(spec: JobSpec, e: Extract<JobEvent, { type: 'metric' }>): ProgressTick {
  const losses: Record<string, number> = {};
  for (const k of LOSS_KEYS) if (e.values[k] !== undefined) losses[k] = e.values[k];
  const t = spec.trainer;
  return t.kind === 'logreg' ? { step: e.step, totalSteps: t.steps, losses } : { step: e.step, epoch: e.epoch, epochs: t.epochs, losses };
}
