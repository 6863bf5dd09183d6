/**
 * Jobs in JetStream KV (key = job id), through the head's record store (kv-records.ts): every
 * change a compare-and-set read-modify-write, the last value kept in memory for the scheduler.
 */
import type { KV } from '@nats-io/kv';
import { z } from 'zod';
import { JobRecord } from '../../shared/schemas/job.ts';
import type { JsRetryOptions } from '../../shared/js-retry.ts';
import { HeadFault } from '../faults/record.ts';
import { assertRecordBudget, JOB_RECORD_MAX_BYTES } from './record-budget.ts';
import { KvRecords, type Mutation } from './kv-records.ts';

export { isRevisionConflict } from './kv-records.ts';

/** JobRecord plus fields only the head reads (other readers strip them). */
export const HeadJob = JobRecord.extend({
  /** ranks of the current generation that exited `succeeded` */
  finished: z.array(z.number().int().nonnegative()).default([]),
  /** the step the first finished rank of this generation reported: the others must match it */
  final_step: z.number().int().nonnegative().optional(),
  /** ms epoch when the current placement was written */
  placed_at: z.number().optional(),
  /**
   * the last live regroup (liveRecovery): the generation it started and the job's step then.
   * A failure in that generation before the step moved on is the same incident (transitions.ts).
   */
  incident: z.object({ generation: z.number().int().nonnegative(), step: z.number().int().nonnegative() }).optional(),
  /** injected faults (head/faults/): armed, delivered, and what became of them */
  faults: z.array(HeadFault).optional(),
  /** the spec's planned faults were armed (when the job first ran) */
  planned_armed: z.boolean().optional(),
});
export type HeadJob = z.infer<typeof HeadJob>;

/** Returned by an update function: the new value, or null for "no change". */
export type JobMutation = Mutation<HeadJob>;

/** JobStore options. */
export interface JobStoreOptions {
  /** the most bytes a record may take (default JOB_RECORD_MAX_BYTES) */
  maxBytes?: number;
}

/** Jobs in KV (kv-records.ts), each record within its size budget (record-budget.ts). */
export class JobStore extends KvRecords<HeadJob> {
  /** `retry`: how KV calls ride out a server loss or leader election (shared/js-retry.ts) */
  constructor(kv: KV, retry: JsRetryOptions = {}, o: JobStoreOptions = {}) {
    const maxBytes = o.maxBytes ?? JOB_RECORD_MAX_BYTES;
    super(kv, { noun: 'job', plural: 'jobs', schema: HeadJob, retry, assertBudget: (r, data) => assertRecordBudget(r, data, maxBytes) });
  }
}
