/** Checkpoint files on disk: atomic save (write a temp file, then rename) and load. */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { dirname } from 'node:path';
import { decodeCheckpoint, encodeCheckpoint, type CheckpointContent } from './format.ts';

/** Writes `content` to `path` atomically; returns the SHA-256 (hex) of the bytes written. */
export function saveCheckpoint(path: string, content: CheckpointContent): string {
  const bytes = encodeCheckpoint(content);
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, bytes);
  renameSync(tmp, path);
  return sha256(bytes);
}

export function loadCheckpoint(path: string): CheckpointContent {
  return decodeCheckpoint(new Uint8Array(readFileSync(path)));
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
