/**
 * A study's slot-hour budget (`budget: { slot_hours }`): each trial's slot time is its jobs'
 * running time x the base job's workers, from when the runner first saw the attempt running to
 * when it saw it end (a job that starts and ends between two passes of the runner counts 0).
 * Kept in the trial (`started_at`, `slot_s`), so a head restart keeps the count.
 */
import type { StudyRecord, Trial } from '../../shared/schemas/study.ts';

const inFlight = (t: Trial) => t.state === 'pending' || t.state === 'running';

/** Slot-hours the trials have used by `now`: their ended attempts and the running time of the current ones. */
export function slotHoursUsed(st: StudyRecord, now: number): number {
  const w = st.spec.base.workers;
  const s = st.trials.reduce(
    (a, t) => a + (t.slot_s ?? 0) + (t.started_at ? (w * Math.max(0, now - Date.parse(t.started_at))) / 1000 : 0),
    0,
  );
  return s / 3600;
}

/** Slot accounting of a trial whose state (or attempt) just changed: starts its clock, or adds the ended attempt's time. */
export function account(t: Trial, before: Trial, workers: number, now: number): void {
  const ended = !inFlight(t) || t.job_id !== before.job_id;
  if (ended && t.started_at) {
    t.slot_s = (t.slot_s ?? 0) + (workers * Math.max(0, now - Date.parse(t.started_at))) / 1000;
    delete t.started_at;
  }
  if (t.state === 'running' && !t.started_at) t.started_at = new Date(now).toISOString();
}
