/**
 * What the tick's passes and the generation decisions see of the controller: its stores, its
 * settings, the progress buffer, and its one write path (`commit`, run inside `serial()`).
 */
import type { Logger } from '../../shared/logger.ts';
import type { HeadJob, JobMutation, JobStore } from '../state/job-store.ts';
import type { NodeStore } from '../state/node-store.ts';
import type { GenerationEnd } from '../state/transitions.ts';
import type { ControllerOptions } from './options.ts';
import type { ProgressBuffer } from './progress.ts';

export interface ControllerCore {
  readonly jobs: JobStore;
  readonly nodes: NodeStore;
  readonly log: Logger;
  readonly opts: ControllerOptions;
  readonly progress: ProgressBuffer;
  /** Writes a job change (revision-checked), then runs its job-changed listeners. */
  commit(id: string, fn: JobMutation): Promise<HeadJob>;
  /** Ends a generation (generation.ts endGeneration). */
  endGeneration(id: string, generation: number, end: GenerationEnd, reason: string, lost?: string[]): Promise<void>;
  /** A node is dead: removed, and its jobs' generations end (generation.ts nodeDied). */
  nodeDied(nodeId: string, why: string): Promise<void>;
}
