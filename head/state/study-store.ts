/**
 * Studies in JetStream KV (key = study id), kept as jobs are (kv-records.ts): every change a
 * compare-and-set read-modify-write, the last value kept in memory so the runner works from it.
 */
import type { KV } from '@nats-io/kv';
import { StudyRecord } from '../../shared/schemas/study.ts';
import { FlotillaError } from '../../shared/errors.ts';
import type { JsRetryOptions } from '../../shared/js-retry.ts';
import { KvRecords, type Mutation } from './kv-records.ts';

/** A study's record may take this many bytes (a NATS message's default limit is 1 MiB). */
export const STUDY_RECORD_MAX_BYTES = 900 * 1024;

export type StudyMutation = Mutation<StudyRecord>;

export class StudyStore extends KvRecords<StudyRecord> {
  constructor(kv: KV, retry: JsRetryOptions = {}) {
    super(kv, {
      noun: 'study',
      plural: 'studies',
      schema: StudyRecord,
      retry,
      assertBudget: (s, data) => {
        if (data.length > STUDY_RECORD_MAX_BYTES)
          throw new FlotillaError(
            'FLO_VALIDATION',
            `study ${s.id}: its record would take ${data.length} bytes, over ${STUDY_RECORD_MAX_BYTES}: search fewer keys or run fewer trials`,
          );
      },
    });
  }
}
