/**
 * Length bounds of the strings and lists in every schema of shared/schemas (UTF-16 code units,
 * as zod counts them; JSON may take up to 6 bytes for one). Each field names its bound next to
 * it (`z.string().max(MAX_PATH)`); a REST body over one is a 400 naming the field. Free text
 * that our own processes produce (exit messages, log lines, reasons) is clipped to MAX_TEXT by
 * its producer (`clipText`) rather than refused, so an outcome is never lost to its length.
 */

/** names, labels, ids of other systems, metric and hyperparameter keys, signals, method names */
export const MAX_NAME = 128;
/** file paths and URLs (PATH_MAX on Linux) */
export const MAX_PATH = 4096;
/** free text: messages, reasons, log lines, details */
export const MAX_TEXT = 16_384;
/** NATS credentials and JWTs (a JWT carries a user's permissions: the servers allow a 16 KiB control line) */
export const MAX_SECRET = 16_384;
/** timestamps (ISO 8601), digests, short codes */
export const MAX_STAMP = 64;
/** entries of a map (metrics, hyperparameters) */
export const MAX_KEYS = 256;
/** ranks of a job, placements, actors of a node (JobSpec.workers' own bound) */
export const MAX_RANKS = 1024;
/** rows of a report or a list of problems */
export const MAX_ROWS = 10_000;
/** records in a listing reply (jobs, workers, studies): far above what a head keeps in memory, a bound all the same */
export const MAX_LISTED = 1_000_000;

/** `s` cut to `max` characters (an ellipsis marks the cut). */
export function clipText(s: string, max = MAX_TEXT): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}
