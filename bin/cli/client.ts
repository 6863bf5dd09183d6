/**
 * HTTP client of the head's REST API, shared by the client commands (submit, status, logs,
 * cancel, scale). The head URL comes from --server, then FLOTILLA_URL, then
 * http://127.0.0.1:8080; the token from --token, then FLOTILLA_TOKEN, then the credentials file
 * (shared/credentials.ts) entry of that URL. Error replies are rebuilt into FlotillaErrors (match on `code`).
 */
import type { z } from 'zod';
import { FlotillaError, fromWire } from '../../shared/errors.ts';
import { validate } from '../../shared/codec.ts';
import { JobList, JobReply, type JobRecord, type JobSpecInput } from '../../shared/schemas/job.ts';
import type { JobEvent } from '../../shared/schemas/event.ts';
import { WorkerList, type WorkerRow } from '../../shared/schemas/node.ts';
import { JobReport } from '../../shared/schemas/report.ts';
import { FaultsArmed, type FaultRequestInput } from '../../shared/schemas/fault.ts';
import { TokenCreated, TokenInfo, TokenList, type TokenCreate } from '../../shared/schemas/token.ts';
import { StudyList, StudyRecord, type StudySpecInput } from '../../shared/schemas/study.ts';
import { storedToken } from '../../shared/credentials.ts';

export const DEFAULT_SERVER = 'http://127.0.0.1:8080';

export function serverUrl(flag?: string, env: NodeJS.ProcessEnv = process.env): string {
  return (flag ?? env.FLOTILLA_URL ?? DEFAULT_SERVER).replace(/\/+$/, '');
}

/** A job event with its stream offset (resume with `from = seq + 1`). */
export interface EventLine {
  seq: number;
  event: JobEvent;
}

export type { WorkerRow };

export class HeadClient {
  readonly base: string;
  readonly #token: string | undefined;
  constructor(base: string, token?: string) {
    this.base = base;
    this.#token = token || process.env.FLOTILLA_TOKEN || storedToken(base);
  }

  #auth(): Record<string, string> {
    return this.#token ? { authorization: `Bearer ${this.#token}` } : {};
  }

  /** One REST call; the reply is checked against `schema`, the head's response schema of the route. */
  async #call<S extends z.ZodType>(schema: S, method: string, path: string, body?: unknown): Promise<z.infer<S>> {
    let res: Response;
    try {
      res = await fetch(`${this.base}${path}`, {
        method,
        headers: { ...this.#auth(), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (e) {
      throw new FlotillaError('FLO_UNAVAILABLE', `cannot reach the head at ${this.base}: ${(e as Error).message}`, { cause: e });
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (!res.ok) {
      const err = (json as { error?: { code?: unknown; message?: unknown; details?: unknown } } | undefined)?.error;
      throw err ? fromWire(err) : new FlotillaError('FLO_INTERNAL', `${method} ${path}: HTTP ${res.status} ${text.slice(0, 200)}`);
    }
    try {
      return validate(schema, json);
    } catch (e) {
      throw new FlotillaError(
        'FLO_INTERNAL',
        `${method} ${path}: the head's reply is not what this client expects (${(e as Error).message})`,
        { cause: e },
      );
    }
  }

  submit(spec: JobSpecInput): Promise<JobRecord> {
    return this.#call(JobReply, 'POST', '/v1/jobs', spec);
  }
  get(id: string): Promise<JobRecord> {
    return this.#call(JobReply, 'GET', `/v1/jobs/${encodeURIComponent(id)}`);
  }
  async list(state?: string): Promise<JobRecord[]> {
    return (await this.#call(JobList, 'GET', `/v1/jobs${state ? `?state=${encodeURIComponent(state)}` : ''}`)).jobs;
  }
  /** the fault report; `baseline`: a fault-free job of the same spec whose final digest it is compared with */
  report(id: string, baseline?: string): Promise<JobReport> {
    return this.#call(
      JobReport,
      'GET',
      `/v1/jobs/${encodeURIComponent(id)}/report${baseline ? `?baseline=${encodeURIComponent(baseline)}` : ''}`,
    );
  }
  cancel(id: string): Promise<JobRecord> {
    return this.#call(JobReply, 'POST', `/v1/jobs/${encodeURIComponent(id)}/cancel`);
  }
  /** POST /v1/jobs/:id/faults: arms faults on a running job; resolves with their ids */
  injectFaults(id: string, body: FaultRequestInput): Promise<FaultsArmed> {
    return this.#call(FaultsArmed, 'POST', `/v1/jobs/${encodeURIComponent(id)}/faults`, body);
  }
  scale(id: string, workers: number): Promise<JobRecord> {
    return this.#call(JobReply, 'PATCH', `/v1/jobs/${encodeURIComponent(id)}`, { workers });
  }
  createToken(t: TokenCreate): Promise<TokenCreated> {
    return this.#call(TokenCreated, 'POST', '/v1/tokens', t);
  }
  async tokens(): Promise<TokenInfo[]> {
    return (await this.#call(TokenList, 'GET', '/v1/tokens')).tokens;
  }
  revokeToken(id: string): Promise<TokenInfo> {
    return this.#call(TokenInfo, 'DELETE', `/v1/tokens/${encodeURIComponent(id)}`);
  }
  startStudy(spec: StudySpecInput): Promise<StudyRecord> {
    return this.#call(StudyRecord, 'POST', '/v1/studies', spec);
  }
  study(id: string): Promise<StudyRecord> {
    return this.#call(StudyRecord, 'GET', `/v1/studies/${encodeURIComponent(id)}`);
  }
  async studies(): Promise<StudyRecord[]> {
    return (await this.#call(StudyList, 'GET', '/v1/studies')).studies;
  }
  cancelStudy(id: string): Promise<StudyRecord> {
    return this.#call(StudyRecord, 'POST', `/v1/studies/${encodeURIComponent(id)}/cancel`);
  }
  /** a study artifact's text (evolve.csv, hyp_evolve.yaml) */
  async studyArtifact(id: string, name: string): Promise<string> {
    const path = `/v1/studies/${encodeURIComponent(id)}/artifacts/${encodeURIComponent(name)}`;
    const res = await fetch(`${this.base}${path}`, { headers: this.#auth() }).catch((e: Error) => {
      throw new FlotillaError('FLO_UNAVAILABLE', `cannot reach the head at ${this.base}: ${e.message}`, { cause: e });
    });
    const text = await res.text();
    if (res.ok) return text;
    let err: { code?: unknown; message?: unknown } | undefined;
    try {
      err = (JSON.parse(text) as { error?: typeof err }).error;
    } catch {
      err = undefined;
    }
    throw err ? fromWire(err) : new FlotillaError('FLO_INTERNAL', `GET ${path}: HTTP ${res.status}`);
  }
  async workers(): Promise<WorkerRow[]> {
    return (await this.#call(WorkerList, 'GET', '/v1/workers')).workers;
  }

  /** Server-sent events of a job; ends when the head ends the stream (job terminal, or caught up without follow). */
  async *events(id: string, opts: { from?: number; follow: boolean; signal?: AbortSignal }): AsyncGenerator<EventLine> {
    const q = new URLSearchParams({ follow: String(opts.follow) });
    if (opts.from) q.set('from', String(opts.from));
    const res = await fetch(`${this.base}/v1/jobs/${encodeURIComponent(id)}/events?${q}`, {
      signal: opts.signal,
      headers: this.#auth(),
    }).catch((e: Error) => {
      throw new FlotillaError('FLO_UNAVAILABLE', `cannot reach the head at ${this.base}: ${e.message}`, { cause: e });
    });
    if (!res.ok || !res.body) {
      const j = (await res.json().catch(() => undefined)) as { error?: { code?: unknown; message?: unknown } } | undefined;
      throw j?.error ? fromWire(j.error) : new FlotillaError('FLO_INTERNAL', `events: HTTP ${res.status}`);
    }
    const dec = new TextDecoder();
    let buf = '';
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buf += dec.decode(chunk, { stream: true });
      let i: number;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        let seq = 0;
        let data = '';
        for (const line of block.split('\n')) {
          if (line.startsWith('id: ')) seq = Number(line.slice(4));
          else if (line.startsWith('data: ')) data += line.slice(6);
        }
        if (data) yield { seq, event: JSON.parse(data) as JobEvent };
      }
    }
  }
}

/** One line per event, for `flotilla logs`. */
export function formatEvent({ seq, event: e }: EventLine): string {
  const t = new Date(e.ts).toISOString().slice(11, 23);
  const head = `${String(seq).padStart(6)} ${t} g${e.generation}`;
  switch (e.type) {
    case 'state':
      return `${head} state ${e.state}${e.message ? ` (${e.message})` : ''}`;
    case 'log':
      return `${head} ${e.level}${e.rank !== undefined ? ` rank${e.rank}` : ''}: ${e.msg}`;
    case 'metric':
      return `${head} step ${e.step}${e.epoch !== undefined ? ` epoch ${e.epoch}` : ''} ${Object.entries(e.values)
        .map(([k, v]) => `${k}=${Number(v.toPrecision(5))}`)
        .join(' ')}`;
    case 'checkpoint':
      return `${head} checkpoint step ${e.step} (${e.name})`;
    case 'artifact':
      return `${head} artifact ${e.name} (${e.bytes} bytes)`;
    case 'fault': {
      const where = e.rank !== undefined ? ` rank ${e.rank}` : e.nodeId ? ` node ${e.nodeId}` : '';
      const at = e.step !== undefined ? ` at step ${e.step}` : '';
      return `${head} fault ${e.fault_id} ${e.fault.kind} ${e.phase}${where}${at}${e.message ? ` (${e.message})` : ''}`;
    }
  }
}
