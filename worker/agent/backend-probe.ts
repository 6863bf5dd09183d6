/**
 * A cheap probe of the compute backend this node offers, without loading TensorFlow into the
 * agent: a resolvable tfjs-node(-gpu) package, else the project's native kernels if built, else
 * plain `cpu`. The engine picks the real backend inside each actor.
 */
import { createRequire } from 'node:module';
import { existsSync, readdirSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import type { ComputeBackend } from '../../shared/schemas/index.ts';

export interface BackendReport { backend: ComputeBackend; device: string }

function resolves(require: NodeJS.Require, pkg: string): boolean {
  try { require.resolve(pkg); return true; } catch { return false; }
}

function nativeBuilt(root: string): boolean {
  const dir = join(root, 'build', 'Release');
  try { return existsSync(dir) && readdirSync(dir).some((f) => f.endsWith('.node')); } catch { return false; }
}

/** `root` is the repository root (where node_modules and build/ live). */
export function probeBackend(root: string): BackendReport {
  const require = createRequire(join(root, 'package.json'));
  const cpu = `${cpus()[0]?.model?.trim() || 'cpu'} x${cpus().length}`;
  if (resolves(require, '@tensorflow/tfjs-node-gpu')) return { backend: 'tensorflow-gpu', device: 'cuda:0' };
  if (resolves(require, '@tensorflow/tfjs-node')) return { backend: 'tensorflow', device: cpu };
  if (nativeBuilt(root)) return { backend: 'native-cpu', device: cpu };
  return { backend: 'cpu', device: cpu };
}
