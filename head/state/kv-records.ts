/**
 * Records in JetStream KV (key = the record's id), kept as the head keeps jobs and studies:
 * every change is a read-modify-write checked against the entry's revision (compare-and-set),
 * retried from a fresh read on a conflict; the store keeps the last value it read or wrote, so
 * the head works from memory. Every KV call rides out a server loss or a leader election
 * (shared/js-retry.ts); a create whose first attempt landed before its reply was lost finds its
 * own bytes and succeeds.
 */
import type { KV } from '@nats-io/kv';
import type { z } from 'zod';
import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import { encode, validate } from '../../shared/codec.ts';
import { FlotillaError } from '../../shared/errors.ts';
import { causes, withJsRetry, type JsRetryOptions } from '../../shared/js-retry.ts';
import { clipText } from '../../shared/schemas/bounds.ts';

const MAX_CAS_TRIES = 16;

/** True when KV refused a write because the key's revision was not the one given (a create of an existing key, a lost CAS race). */
export function isRevisionConflict(e: unknown): boolean {
  return causes(e).some(
    (c) =>
      c instanceof JetStreamApiError &&
      (c.code === JetStreamApiCodes.StreamWrongLastSequence || c.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown),
  );
}

/** What every stored record has. */
export interface StoredRecord {
  id: string;
  updated_at: string;
  message?: string;
}

/** Returned by an update function: the new value, or null for "no change". */
export type Mutation<T> = (r: T) => T | null;

export interface KvRecordsOptions<T> {
  /** the record's name in messages ("job", "study"), and its plural ("jobs", "studies") */
  noun: string;
  plural: string;
  /** the record's schema; its output type is T */
  schema: z.ZodType<T>;
  /** throws when a record's encoding is over its budget (a 400 naming what to make smaller) */
  assertBudget(record: T, encoded: Uint8Array): void;
  retry?: JsRetryOptions;
}

export class KvRecords<T extends StoredRecord> {
  readonly #cache = new Map<string, { value: T; rev: number }>();

  constructor(
    private readonly kv: KV,
    private readonly o: KvRecordsOptions<T>,
  ) {}

  /** The record validated (its message clipped to its bound) and encoded, within its budget. */
  #encode(r: T): { value: T; data: Uint8Array } {
    const value = validate(this.o.schema, r.message === undefined ? r : { ...r, message: clipText(r.message) });
    const data = encode(value);
    this.o.assertBudget(value, data);
    return { value, data };
  }

  #failed(id: string, e: unknown): FlotillaError {
    return new FlotillaError('FLO_INTERNAL', `${this.o.noun} ${id} could not be stored: ${e instanceof Error ? e.message : String(e)}`, {
      cause: e,
    });
  }

  /** Reads every record from KV into memory (start of a head); returns how many. */
  async load(): Promise<number> {
    const keys = await withJsRetry(
      `list ${this.o.plural}`,
      async () => {
        const out: string[] = [];
        for await (const k of await this.kv.keys()) out.push(k);
        return out;
      },
      this.o.retry,
    );
    for (const k of keys) await this.#read(k);
    return this.#cache.size;
  }

  list(): T[] {
    return [...this.#cache.values()].map((e) => e.value);
  }

  get(id: string): T | undefined {
    return this.#cache.get(id)?.value;
  }

  /**
   * Writes a new record; fails with FLO_VALIDATION when it is over its budget, FLO_CONFLICT when
   * the id exists, FLO_UNAVAILABLE when JetStream does not answer, and FLO_INTERNAL with KV's
   * own message for any other refusal. A retry that finds our own first write landed is a success.
   */
  async create(r: T): Promise<T> {
    const { value, data } = this.#encode(r);
    let rev: number;
    try {
      rev = await withJsRetry(
        `create ${this.o.noun} ${value.id}`,
        async (attempt) => {
          try {
            return await this.kv.create(value.id, data);
          } catch (e) {
            if (attempt > 1) {
              const cur = await this.kv.get(value.id);
              if (cur?.operation === 'PUT' && Buffer.from(cur.value).equals(Buffer.from(data))) return cur.revision;
            }
            throw e;
          }
        },
        this.o.retry,
      );
    } catch (e) {
      if (e instanceof FlotillaError) throw e;
      if (isRevisionConflict(e)) throw new FlotillaError('FLO_CONFLICT', `${this.o.noun} ${value.id} exists`, { cause: e });
      throw this.#failed(value.id, e);
    }
    this.#cache.set(value.id, { value, rev });
    return value;
  }

  /**
   * Applies `fn` to the newest value and writes it if the revision is unchanged; on a conflict,
   * re-reads and tries again. Returns the stored value (unchanged when fn gives null).
   */
  async update(id: string, fn: Mutation<T>): Promise<T> {
    let entry = this.#cache.get(id) ?? (await this.#read(id));
    for (let i = 0; i < MAX_CAS_TRIES; i++) {
      if (!entry) throw new FlotillaError('FLO_NOT_FOUND', `no ${this.o.noun} ${id}`);
      const next = fn(structuredClone(entry.value));
      if (next === null) return entry.value;
      const { value, data } = this.#encode({ ...next, updated_at: new Date().toISOString() });
      try {
        const prev = entry.rev;
        const rev = await withJsRetry(`update ${this.o.noun} ${id}`, () => this.kv.update(id, data, prev), this.o.retry);
        this.#cache.set(id, { value, rev });
        return value;
      } catch (e) {
        if (e instanceof FlotillaError) throw e; // JetStream unavailable: not a conflict
        if (!isRevisionConflict(e)) throw this.#failed(id, e);
        entry = await this.#read(id);
      }
    }
    throw new FlotillaError('FLO_CONFLICT', `${this.o.noun} ${id} kept changing; gave up after ${MAX_CAS_TRIES} tries`);
  }

  async #read(id: string): Promise<{ value: T; rev: number } | undefined> {
    const e = await withJsRetry(`read ${this.o.noun} ${id}`, () => this.kv.get(id), this.o.retry);
    if (!e || e.operation !== 'PUT') {
      this.#cache.delete(id);
      return undefined;
    }
    const entry = { value: validate(this.o.schema, e.json()), rev: e.revision };
    this.#cache.set(id, entry);
    return entry;
  }
}
