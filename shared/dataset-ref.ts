/**
 * `dataset://NAME`: a YOLO dataset pushed to the cluster's Object Store (`flotilla dataset
 * push`), named where a job spec takes a dataset yaml path. One object per name: a tar of the
 * dataset folder, with its SHA-256 and the yaml's path inside it in the object's metadata.
 */
export const DATASET_SCHEME = 'dataset://';

/** Dataset names: 1-64 of [A-Za-z0-9_.-], starting with a letter or digit. */
export const DATASET_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** Object metadata keys. */
export const DATASET_META = { sha256: 'flotilla-sha256', yaml: 'flotilla-yaml', files: 'flotilla-files' } as const;

/** The name in a `dataset://NAME` reference, or null for anything else (a path, 'synthetic'). */
export function datasetRefName(data: string): string | null {
  return data.startsWith(DATASET_SCHEME) ? data.slice(DATASET_SCHEME.length) : null;
}

/** True for `NAME/FILE` after the scheme: a file inside a pushed dataset (job `weights:`), FILE relative, without '..' or empty parts. */
export function isDatasetFileRef(r: string): boolean {
  const k = r.indexOf('/');
  if (k < 0 || !DATASET_NAME.test(r.slice(0, k))) return false;
  const parts = r.slice(k + 1).split('/');
  return parts.every((p) => p !== '' && p !== '.' && p !== '..' && !p.includes('\0'));
}

/** The dataset name and the file inside it of `dataset://NAME/FILE`, or null for anything else. */
export function datasetFileRef(ref: string): { name: string; file: string } | null {
  const r = datasetRefName(ref);
  if (r === null || !isDatasetFileRef(r)) return null;
  const k = r.indexOf('/');
  return { name: r.slice(0, k), file: r.slice(k + 1) };
}
