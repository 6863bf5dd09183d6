/**
 * A cheap probe of the compute backend this node offers, without loading TensorFlow into the
 * agent (worker/engine/backend.ts makes the real choice inside each actor): an installed
 * the project's CUDA addon when built and an NVIDIA device node is present, else an installed
 * tfjs-node(-gpu) package with its native binding, else the project's native kernels if built,
 * else plain `cpu`.
 */
import { createRequire } from 'node:module';
import { existsSync, readdirSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import type { ComputeBackend } from '../../shared/schemas/index.ts';

export interface BackendReport {
  backend: ComputeBackend;
  device: string;
}

/** The package resolves and its native binding was installed (lib/napi-vN/tfjs_binding.node). */
function tfjsNodeUsable(require: NodeJS.Require, pkg: string): boolean {
  let dir: string;
  try {
    dir = dirname(require.resolve(`${pkg}/package.json`));
  } catch {
    return false;
  }
  try {
    return readdirSync(join(dir, 'lib')).some((d) => d.startsWith('napi-v') && existsSync(join(dir, 'lib', d, 'tfjs_binding.node')));
  } catch {
    return false;
  }
}

function nativeBuilt(root: string): boolean {
  const dir = join(root, 'build', 'Release');
  try {
    return existsSync(dir) && readdirSync(dir).some((f) => f.endsWith('.node'));
  } catch {
    return false;
  }
}

/** `root` is the repository root (where node_modules and build/ live). */
export function probeBackend(root: string): BackendReport {
  const require = createRequire(join(root, 'package.json'));
  const cpu = `${cpus()[0]?.model?.trim() || 'cpu'} x${cpus().length}`;
  if (existsSync(join(root, 'build', 'cuda', 'flotilla_cuda.node')) && existsSync('/dev/nvidiactl'))
    return { backend: 'cuda', device: 'cuda:0' };
  if (tfjsNodeUsable(require, '@tensorflow/tfjs-node-gpu')) return { backend: 'tensorflow-gpu', device: 'cuda:0' };
  if (tfjsNodeUsable(require, '@tensorflow/tfjs-node')) return { backend: 'tensorflow', device: cpu };
  if (nativeBuilt(root)) return { backend: 'native-cpu', device: cpu };
  return { backend: 'cpu', device: cpu };
}
