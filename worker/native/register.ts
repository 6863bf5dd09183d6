// Swaps the native kernels in for the JS ones of tfjs's `cpu` backend. Each native kernel may
// decline a call (a dtype or layout it does not cover); the JS kernel then runs it.
import * as tf from '@tensorflow/tfjs';

import type { NativeAddon } from './addon.ts';
import { registerBnAct } from './bn-act.ts';
import { registerFlatStep } from './flat-step.ts';
import type { KernelArgs, NativeKernel } from './cpu-backend.ts';
import { NATIVE_KERNELS } from './kernels/index.ts';
import { memoryPool } from './memory-pool.ts';

/** Calls per kernel that ran natively and that fell back to JS since registration. */
export type KernelCounts = Map<string, { native: number; fallback: number }>;

/** A live registration: which kernels were swapped, their call counts, and the way back. */
export interface Registration {
  readonly kernels: readonly string[];
  readonly counts: KernelCounts;
  /** Whether calls go to the native kernels (true after registration); false routes them all to JS. */
  enabled: boolean;
  /** Puts the JS kernels back. */
  restore(): void;
}

const BACKEND = 'cpu';

export function registerNativeKernels(addon: NativeAddon, kernels: readonly NativeKernel[] = NATIVE_KERNELS): Registration {
  const originals: tf.KernelConfig[] = [];
  const counts: KernelCounts = new Map();
  const state = { enabled: true };
  for (const k of kernels) {
    const original = tf.getKernel(k.name, BACKEND);
    if (!original) continue;
    const count = { native: 0, fallback: 0 };
    counts.set(k.name, count);
    originals.push(original);
    tf.unregisterKernel(k.name, BACKEND);
    tf.registerKernel({
      ...original,
      kernelFunc: (params) => {
        const out = state.enabled ? k.run(params as unknown as KernelArgs, addon) : null;
        if (out !== null) {
          count.native++;
          return out;
        }
        count.fallback++;
        return original.kernelFunc(params);
      },
    });
  }
  // The fused BatchNorm + activation has no JS kernel to replace: it is added, always native.
  const unregisterBnAct = tf.getKernel('FlotillaBnAct', BACKEND) ? () => {} : registerBnAct(addon);
  // So are the optimizer's flat updates (flat-step.ts), where the addon has its loops.
  const unregisterFlatStep =
    tf.getKernel('FlotillaNesterov', BACKEND) || typeof addon.flatNesterov !== 'function' ? () => {} : registerFlatStep(addon);
  // Outputs of the native kernels come from a free list fed by disposed tensors
  // (memory-pool.ts); FLOTILLA_POOL=0 turns it off.
  const uninstallPool = process.env.FLOTILLA_POOL === '0' ? () => {} : memoryPool.install(tf.findBackend(BACKEND) as never);
  let live = true;
  return {
    kernels: originals.map((o) => o.kernelName),
    counts,
    get enabled() {
      return state.enabled;
    },
    set enabled(on: boolean) {
      state.enabled = on;
    },
    restore() {
      if (!live) return;
      live = false;
      uninstallPool();
      unregisterBnAct();
      unregisterFlatStep();
      for (const o of originals) {
        tf.unregisterKernel(o.kernelName, BACKEND);
        tf.registerKernel(o);
      }
    },
  };
}
