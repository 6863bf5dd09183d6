/** detect.py's `--source` for images: one file, a folder (its images, sorted), or a glob pattern. */
import { readdirSync, statSync } from 'node:fs';
import { extname, isAbsolute, join } from 'node:path';
import { globSync } from 'tinyglobby';
import { IMAGE_EXTENSIONS } from '../data/index.ts';
import { EngineError } from '../errors.ts';

export class SourceError extends EngineError {
  override name = 'SourceError';
  readonly retryable = false;
}

const isImage = (f: string) => IMAGE_EXTENSIONS.includes(extname(f).toLowerCase());

/** The image files `source` names, in sorted order; throws SourceError when there are none. */
export function imageFiles(source: string): string[] {
  let files: string[];
  if (/[*?[]/.test(source))
    files = globSync(source, { absolute: isAbsolute(source), onlyFiles: true, expandDirectories: false }).filter(isImage);
  else {
    let st;
    try {
      st = statSync(source);
    } catch {
      throw new SourceError(`--source '${source}' does not exist`);
    }
    if (st.isDirectory())
      files = readdirSync(source, { withFileTypes: true })
        .filter((e) => e.isFile() && isImage(e.name))
        .map((e) => join(source, e.name));
    else if (isImage(source)) files = [source];
    else
      throw new SourceError(`--source '${source}' is not an image (${IMAGE_EXTENSIONS.join(' ')}); videos and streams are not supported`);
  }
  files.sort();
  if (!files.length) throw new SourceError(`--source '${source}' holds no images (${IMAGE_EXTENSIONS.join(' ')})`);
  return files;
}
