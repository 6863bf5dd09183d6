/**
 * The backend of the model tests: plain tfjs `cpu` (independent of every other part of the
 * engine) unless FLOTILLA_BACKEND names one, e.g. `FLOTILLA_BACKEND=native-cpu` to run the same
 * checks on the native kernels.
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../worker/engine/backend.ts';

export async function modelTestBackend(): Promise<string> {
  if (process.env.FLOTILLA_BACKEND) {
    const info = await initBackend();
    return `${info.backend}: ${info.device}`;
  }
  await tf.setBackend('cpu');
  return 'cpu (plain tfjs)';
}
