/**
 * Jobs in JetStream KV (key = job id). Every change is a read-modify-write checked against
 * the entry's revision (compare-and-set), retried on conflict from a fresh read. The store
 * keeps the last value it read or wrote, so the scheduler works from memory.
 */
import type { KV } from '@nats-io/kv';
import { z } from 'zod';
import { JobRecord } from '../../shared/schemas/job.ts';
import { encode, validate } from '../../shared/codec.ts';
import { FlotillaError } from '../../shared/errors.ts';
import { causes, withJsRetry, type JsRetryOptions } from '../../shared/js-retry.ts';
import { clipText } from '../../shared/schemas/bounds.ts';
import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import { HeadFault } from '../faults/record.ts';
import { assertRecordBudget, JOB_RECORD_MAX_BYTES } from './record-budget.ts';

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
export type JobMutation = (job: HeadJob) => HeadJob | null;

const MAX_CAS_TRIES = 16;

/** True when KV refused a write because the key's revision was not the one given (a create of an existing key, a lost CAS race). */
export function isRevisionConflict(e: unknown): boolean {
  return causes(e).some((c) => c instanceof JetStreamApiError
    && (c.code === JetStreamApiCodes.StreamWrongLastSequence || c.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown));
}

/** A KV write that failed for another reason than a conflict or an outage keeps its own message. */
function storeFailed(what: string, e: unknown): FlotillaError {
  return new FlotillaError('FLO_INTERNAL', `${what} could not be stored: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
}

/** JobStore options. */
export interface JobStoreOptions {
  /** the most bytes a record may take (default JOB_RECORD_MAX_BYTES) */
  maxBytes?: number;
}

export class JobStore {
  readonly #kv: KV;
  readonly #cache = new Map<string, { job: HeadJob; rev: number }>();
  readonly #retry: JsRetryOptions;
  readonly #maxBytes: number;

  /** `retry`: how KV calls ride out a server loss or leader election (shared/js-retry.ts) */
  constructor(kv: KV, retry: JsRetryOptions = {}, o: JobStoreOptions = {}) {
    this.#kv = kv; this.#retry = retry; this.#maxBytes = o.maxBytes ?? JOB_RECORD_MAX_BYTES;
  }

  /** The record validated (its message clipped to its bound) and encoded, within the size budget. */
  #encode(job: HeadJob): { value: HeadJob; data: Uint8Array } {
    const value = validate(HeadJob, job.message === undefined ? job : { ...job, message: clipText(job.message) });
    const data = encode(value);
    assertRecordBudget(value, data, this.#maxBytes);
    return { value, data };
  }

  /** Reads every job from KV into memory (start of a head). */
  async load(): Promise<number> {
    const keys = await withJsRetry('list jobs', async () => {
      const out: string[] = [];
      for await (const k of await this.#kv.keys()) out.push(k);
      return out;
    }, this.#retry);
    for (const k of keys) await this.#read(k);
    return this.#cache.size;
  }

  list(): HeadJob[] { return [...this.#cache.values()].map((e) => e.job); }

  get(id: string): HeadJob | undefined { return this.#cache.get(id)?.job; }

  /**
   * Writes a new job; fails with FLO_VALIDATION when the record is over its size budget,
   * FLO_CONFLICT when the id exists, FLO_UNAVAILABLE when JetStream does not answer, and
   * FLO_INTERNAL with KV's own message for any other refusal. A retry that finds our own first
   * write landed is a success.
   */
  async create(job: HeadJob): Promise<HeadJob> {
    const { value, data } = this.#encode(job);
    let rev: number;
    try {
      rev = await withJsRetry(`create job ${value.id}`, async (attempt) => {
        try { return await this.#kv.create(value.id, data); } catch (e) {
          if (attempt > 1) {
            const cur = await this.#kv.get(value.id);
            if (cur?.operation === 'PUT' && (cur.json() as { seq?: number }).seq === value.seq) return cur.revision;
          }
          throw e;
        }
      }, this.#retry);
    } catch (e) {
      if (e instanceof FlotillaError) throw e;
      if (isRevisionConflict(e)) throw new FlotillaError('FLO_CONFLICT', `job ${value.id} exists`, { cause: e });
      throw storeFailed(`job ${value.id}`, e);
    }
    this.#cache.set(value.id, { job: value, rev });
    return value;
  }

  /**
   * Applies `fn` to the newest value and writes it if the revision is unchanged; on a
   * conflict, re-reads and tries again. Returns the stored value (unchanged when fn gives null).
   */
  async update(id: string, fn: JobMutation): Promise<HeadJob> {
    let entry = this.#cache.get(id) ?? (await this.#read(id));
    for (let i = 0; i < MAX_CAS_TRIES; i++) {
      if (!entry) throw new FlotillaError('FLO_NOT_FOUND', `no job ${id}`);
      const next = fn(structuredClone(entry.job));
      if (next === null) return entry.job;
      const { value, data } = this.#encode({ ...next, updated_at: new Date().toISOString() });
      try {
        const prev = entry.rev;
        const rev = await withJsRetry(`update job ${id}`, () => this.#kv.update(id, data, prev), this.#retry);
        this.#cache.set(id, { job: value, rev });
        return value;
      } catch (e) {
        if (e instanceof FlotillaError) throw e; // JetStream unavailable: not a conflict
        if (!isRevisionConflict(e)) throw storeFailed(`job ${id}`, e);
        entry = await this.#read(id);
      }
    }
    throw new FlotillaError('FLO_CONFLICT', `job ${id} kept changing; gave up after ${MAX_CAS_TRIES} tries`);
  }

  async #read(id: string): Promise<{ job: HeadJob; rev: number } | undefined> {
    const e = await withJsRetry(`read job ${id}`, () => this.#kv.get(id), this.#retry);
    if (!e || e.operation !== 'PUT') { this.#cache.delete(id); return undefined; }
    const entry = { job: validate(HeadJob, e.json()), rev: e.revision };
    this.#cache.set(id, entry);
    return entry;
  }
}
