/**
 * Studies in JetStream KV (key = study id), as jobs are kept (job-store.ts): every change is a
 * read-modify-write checked against the entry's revision, retried from a fresh read on a
 * conflict; the store keeps the last value it read or wrote so the runner works from memory.
 */
import type { KV } from '@nats-io/kv';
import { StudyRecord } from '../../shared/schemas/study.ts';
import { encode, validate } from '../../shared/codec.ts';
import { FlotillaError } from '../../shared/errors.ts';
import { withJsRetry, type JsRetryOptions } from '../../shared/js-retry.ts';
import { clipText } from '../../shared/schemas/bounds.ts';
import { isRevisionConflict } from './job-store.ts';

const MAX_CAS_TRIES = 16;
/** A study's record may take this many bytes (a NATS message's default limit is 1 MiB). */
export const STUDY_RECORD_MAX_BYTES = 900 * 1024;

export type StudyMutation = (s: StudyRecord) => StudyRecord | null;

export class StudyStore {
  readonly #kv: KV;
  readonly #retry: JsRetryOptions;
  readonly #cache = new Map<string, { study: StudyRecord; rev: number }>();

  constructor(kv: KV, retry: JsRetryOptions = {}) { this.#kv = kv; this.#retry = retry; }

  #encode(s: StudyRecord): { value: StudyRecord; data: Uint8Array } {
    const value = validate(StudyRecord, s.message === undefined ? s : { ...s, message: clipText(s.message) });
    const data = encode(value);
    if (data.length > STUDY_RECORD_MAX_BYTES) throw new FlotillaError('FLO_VALIDATION', `study ${s.id}: its record would take ${data.length} bytes, over ${STUDY_RECORD_MAX_BYTES}: search fewer keys or run fewer trials`);
    return { value, data };
  }

  async load(): Promise<number> {
    const keys = await withJsRetry('list studies', async () => {
      const out: string[] = [];
      for await (const k of await this.#kv.keys()) out.push(k);
      return out;
    }, this.#retry);
    for (const k of keys) await this.#read(k);
    return this.#cache.size;
  }

  list(): StudyRecord[] { return [...this.#cache.values()].map((e) => e.study); }
  get(id: string): StudyRecord | undefined { return this.#cache.get(id)?.study; }

  async create(s: StudyRecord): Promise<StudyRecord> {
    const { value, data } = this.#encode(s);
    let rev: number;
    try {
      rev = await withJsRetry(`create study ${value.id}`, () => this.#kv.create(value.id, data), this.#retry);
    } catch (e) {
      if (e instanceof FlotillaError) throw e;
      if (isRevisionConflict(e)) throw new FlotillaError('FLO_CONFLICT', `study ${value.id} exists`, { cause: e });
      throw new FlotillaError('FLO_INTERNAL', `study ${value.id} could not be stored: ${(e as Error).message}`, { cause: e });
    }
    this.#cache.set(value.id, { study: value, rev });
    return value;
  }

  /** Applies `fn` to the newest value and writes it if the revision is unchanged (null: no change). */
  async update(id: string, fn: StudyMutation): Promise<StudyRecord> {
    let entry = this.#cache.get(id) ?? (await this.#read(id));
    for (let i = 0; i < MAX_CAS_TRIES; i++) {
      if (!entry) throw new FlotillaError('FLO_NOT_FOUND', `no study ${id}`);
      const next = fn(structuredClone(entry.study));
      if (next === null) return entry.study;
      const { value, data } = this.#encode({ ...next, updated_at: new Date().toISOString() });
      try {
        const prev = entry.rev;
        const rev = await withJsRetry(`update study ${id}`, () => this.#kv.update(id, data, prev), this.#retry);
        this.#cache.set(id, { study: value, rev });
        return value;
      } catch (e) {
        if (e instanceof FlotillaError) throw e;
        if (!isRevisionConflict(e)) throw new FlotillaError('FLO_INTERNAL', `study ${id} could not be stored: ${(e as Error).message}`, { cause: e });
        entry = await this.#read(id);
      }
    }
    throw new FlotillaError('FLO_CONFLICT', `study ${id} kept changing; gave up after ${MAX_CAS_TRIES} tries`);
  }

  async #read(id: string): Promise<{ study: StudyRecord; rev: number } | undefined> {
    const e = await withJsRetry(`read study ${id}`, () => this.#kv.get(id), this.#retry);
    if (!e || e.operation !== 'PUT') { this.#cache.delete(id); return undefined; }
    const entry = { study: validate(StudyRecord, e.json()), rev: e.revision };
    this.#cache.set(id, entry);
    return entry;
  }
}
