/**
 * REST tokens in JetStream KV (key = token id): `flo_<id>_<secret>`, of which only the SHA-256
 * of the 32-byte random secret is stored (a high-entropy secret needs no slow hash). A token
 * is checked by id lookup and a constant-time comparison; revoked and expired ones fail.
 * A token checked in the last CACHE_MS (30 s) is believed without a read. While KV cannot be
 * read (the head is cut off from NATS: `cutOff` says why, or a read failed in the last
 * RETRY_READ_MS) no read is tried: a token KV confirmed within OUTAGE_TRUST_MS (15 min) is
 * believed from the cache at once (reads then say they are stale, writes fail with 503 anyway),
 * any other gets 503 FLO_UNAVAILABLE at once; no request waits out a KV timeout. The cached
 * copy's time is not refreshed by an outage, so once KV answers again the next request re-reads
 * it: a revocation recorded in KV meanwhile applies from then on. Revocations through this store
 * drop the cache at once (they need KV, so they fail with 503 while it is unreachable).
 * A revocation made elsewhere takes effect within CACHE_MS.
 * A worker (join) token also records the NATS users issued under it (`users`: the node's user
 * of a node-bound token, every node a pool token admitted), the ids of those nodes (`nodes`)
 * and the users of the actor credentials the head minted for them (`actors`), so revoking it
 * can revoke them all on the servers too (revocations.ts): a node cut off cannot go on with the
 * creds of the actors it ran.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { KV } from '@nats-io/kv';
import { z } from 'zod';
import { encode, validate } from '../../shared/codec.ts';
import { FlotillaError } from '../../shared/errors.ts';
import { TokenInfo, type Role } from '../../shared/schemas/token.ts';
import { parseJoinToken } from '../../shared/join-token.ts';
import { credsJwt, jwtClaims } from '../../shared/nats-connect.ts';

/**
 * `users`: public keys of the NATS users issued under a worker token; `nodes`: the node ids it
 * admitted; `actors`: public keys of the actor users minted for those nodes
 */
const Stored = TokenInfo.extend({
  hash: z.string().regex(/^[a-f0-9]{64}$/),
  users: z.array(z.string()).optional(),
  nodes: z.array(z.string()).optional(),
  actors: z.array(z.string()).optional(),
});
type Stored = z.infer<typeof Stored>;

const TOKEN_RE = /^flo_([a-f0-9]{12})_([A-Za-z0-9_-]{43})$/;
const sha = (s: string) => createHash('sha256').update(s).digest('hex');
/** a token KV confirmed this recently is believed without a read */
export const CACHE_MS = 30_000;
/** while KV cannot be read, a token KV confirmed this recently is still believed */
export const OUTAGE_TRUST_MS = 15 * 60_000;
/** a cached token's re-read gives up after this long (the cached verdict is used) */
export const READ_TIMEOUT_MS = 2000;
/** after a failed read, no read is tried for this long (each request would pay for it) */
export const RETRY_READ_MS = 2000;

/** TokenStore options (tests inject the clock). */
export interface TokenStoreOptions {
  /** the cache's clock (ms; default Date.now) */
  now?: () => number;
  /** why KV cannot be reached now (the head's view: NatsView.problem), or null */
  cutOff?: () => string | null;
}

export class TokenStore {
  readonly #seen = new Map<string, { info: TokenInfo; at: number }>();
  /** node id -> worker tokens that admitted it: read from KV once, then kept up to date by this store's own writes (the head is the only writer) */
  #admitted: Map<string, Set<string>> | undefined;
  /** admissions written while that first read runs (it may have passed their keys already) */
  readonly #early: Array<[string, string]> = [];
  readonly #now: () => number;
  readonly #cutOff: () => string | null;
  /** no KV read is tried before this (clock ms): the last one failed */
  #readsFrom = 0;
  /** KV reads `verify` made (cache misses and re-reads) */
  readonly stats = { kvReads: 0 };
  constructor(
    private readonly kv: KV,
    o: TokenStoreOptions = {},
  ) {
    this.#now = o.now ?? Date.now;
    this.#cutOff = o.cutOff ?? (() => null);
  }

  /** Throws 503 FLO_UNAVAILABLE at once while KV cannot be reached (a write would wait out its timeout). */
  #assertReachable(what: string): void {
    const why = this.#cutOff();
    if (why) throw new FlotillaError('FLO_UNAVAILABLE', `tokens cannot be ${what} while the head is cut off from NATS: ${why}`);
  }

  /** A new token; the secret is returned once. A `token` given (a join token) is stored by its hash the same way. */
  async create(
    role: Role,
    name?: string,
    opts: { expiresInMs?: number; token?: (id: string) => Promise<string> } = {},
  ): Promise<{ info: TokenInfo; token: string }> {
    this.#assertReachable('created');
    const id = randomBytes(6).toString('hex');
    const token = opts.token ? await opts.token(id) : `flo_${id}_${randomBytes(32).toString('base64url')}`;
    const now = Date.now();
    const info: TokenInfo = {
      id,
      role,
      ...(name ? { name } : {}),
      created_at: new Date(now).toISOString(),
      ...(opts.expiresInMs ? { expires_at: new Date(now + opts.expiresInMs).toISOString() } : {}),
    };
    const node = role === 'worker' && opts.token ? joinNode(token) : {};
    await this.kv.create(
      id,
      encode({
        ...info,
        hash: sha(token),
        ...(node.user ? { users: [node.user] } : {}),
        ...(node.nodeId ? { nodes: [node.nodeId] } : {}),
      } satisfies Stored),
    );
    if (node.nodeId) this.#admit(node.nodeId, id);
    return { info, token };
  }

  /** Records a NATS user issued under worker token `id` (a pool join) and the node it names; a token the store does not hold is ignored. */
  async addUser(id: string, publicKey: string, nodeId?: string): Promise<void> {
    await this.#change(id, 'record a joined node', (rec) => {
      if (rec.users?.includes(publicKey) && (!nodeId || rec.nodes?.includes(nodeId))) return null;
      return { ...rec, users: union(rec.users, [publicKey]), ...(nodeId ? { nodes: union(rec.nodes, [nodeId]) } : {}) };
    });
    if (nodeId) this.#admit(nodeId, id);
  }

  #admit(nodeId: string, tokenId: string): void {
    if (!this.#admitted) {
      this.#early.push([nodeId, tokenId]);
      return;
    }
    this.#admitted.set(nodeId, (this.#admitted.get(nodeId) ?? new Set<string>()).add(tokenId));
  }

  /** The worker tokens that admitted node `nodeId` (every token is read once per store, not per spawn). */
  async #admitters(nodeId: string): Promise<string[]> {
    if (!this.#admitted) {
      const index = new Map<string, Set<string>>();
      for await (const k of await this.kv.keys()) {
        const r = await this.#get(k);
        if (!r || r.role !== 'worker') continue;
        for (const n of r.nodes ?? []) index.set(n, (index.get(n) ?? new Set<string>()).add(k));
      }
      if (!this.#admitted) {
        this.#admitted = index;
        for (const [n, k] of this.#early.splice(0)) this.#admit(n, k);
      }
    }
    return [...(this.#admitted.get(nodeId) ?? [])];
  }

  /**
   * Records actor users minted for node `nodeId` under every worker token that admitted a node
   * of that id (a node id taken again later, under another token, counts for both: revoking
   * either cuts those actors off). A node no stored token admitted (one the autoscaler started
   * with a credential of its own) records nothing: there is no token to revoke it by.
   */
  async addNodeUsers(nodeId: string, users: string[]): Promise<void> {
    for (const k of await this.#admitters(nodeId)) {
      await this.#change(k, `record actors of node ${nodeId}`, (rec) =>
        users.every((u) => rec.actors?.includes(u)) ? null : { ...rec, actors: union(rec.actors, users) },
      );
    }
  }

  /** A revision-checked rewrite of token `id` (read again when another write won); `fn` returns null for no change. */
  async #change(id: string, what: string, fn: (rec: Stored) => Stored | null): Promise<void> {
    for (let attempt = 0; attempt < 10; attempt++) {
      const e = await this.kv.get(id);
      if (!e || e.operation !== 'PUT') return;
      const next = fn(validate(Stored, e.json()));
      if (!next) return;
      try {
        await this.kv.update(id, encode(next satisfies Stored), e.revision);
        return;
      } catch {
        /* another write won: read again */
      }
    }
    throw new FlotillaError('FLO_CONFLICT', `token ${id}: could not ${what}`);
  }

  /** The NATS revocations of every revoked worker token: user public key -> unix seconds (rounded up: JWTs of that second are revoked too). */
  async revokedUsers(): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for await (const k of await this.kv.keys()) {
      const r = await this.#get(k);
      if (!r || r.role !== 'worker' || !r.revoked_at) continue;
      for (const u of [...(r.users ?? []), ...(r.actors ?? [])]) out[u] = Math.ceil(Date.parse(r.revoked_at) / 1000);
    }
    return out;
  }

  async #get(id: string): Promise<Stored | null> {
    const e = await this.kv.get(id);
    if (!e || e.operation !== 'PUT') return null;
    return validate(Stored, e.json());
  }

  /** The token's record when it is valid (known, not revoked, not expired), else null. */
  async verify(token: string): Promise<TokenInfo | null> {
    const m = TOKEN_RE.exec(token.trim());
    if (!m) return null;
    const key = sha(token.trim());
    const seen = this.#seen.get(key);
    const now = this.#now();
    const fresh = (i: TokenInfo) => !i.expires_at || Date.parse(i.expires_at) >= Date.now();
    if (seen && now - seen.at < CACHE_MS && fresh(seen.info)) return seen.info;
    // what an outage may use: a verdict KV gave recently enough (its time is left as it was)
    const trusted = seen && now - seen.at < OUTAGE_TRUST_MS && fresh(seen.info) ? seen.info : null;
    const unreachable = this.#cutOff() ?? (now < this.#readsFrom ? 'a token read failed just now' : null);
    if (unreachable) {
      if (trusted) return trusted;
      throw new FlotillaError(
        'FLO_UNAVAILABLE',
        `tokens cannot be checked while the head is cut off from NATS (${unreachable}); a token checked in the last ${OUTAGE_TRUST_MS / 60_000} min still works`,
      );
    }
    let rec: Stored | null;
    try {
      this.stats.kvReads++;
      const read = this.#get(m[1]);
      rec = trusted ? await withTimeout(read, READ_TIMEOUT_MS) : await read;
    } catch (e) {
      this.#readsFrom = this.#now() + RETRY_READ_MS;
      if (trusted) return trusted;
      throw new FlotillaError('FLO_UNAVAILABLE', `tokens cannot be checked: ${(e as Error).message}`, { cause: e });
    }
    this.#seen.delete(key);
    if (!rec || rec.revoked_at || rec.role === 'worker') return null;
    if (rec.expires_at && Date.parse(rec.expires_at) < Date.now()) return null;
    const a = Buffer.from(sha(token.trim()), 'hex');
    const b = Buffer.from(rec.hash, 'hex');
    if (!timingSafeEqual(a, b)) return null;
    const { hash: _hash, users: _users, nodes: _nodes, actors: _actors, ...info } = rec;
    this.#seen.set(key, { info, at: this.#now() });
    return info;
  }

  async revoke(id: string): Promise<TokenInfo> {
    this.#assertReachable('revoked');
    const rec = await this.#get(id);
    if (!rec) throw new FlotillaError('FLO_NOT_FOUND', `no token ${id}`);
    const next: Stored = { ...rec, revoked_at: rec.revoked_at ?? new Date().toISOString() };
    await this.kv.put(id, encode(next));
    for (const [k, v] of this.#seen) if (v.info.id === id) this.#seen.delete(k);
    const { hash: _hash, users: _users, nodes: _nodes, actors: _actors, ...info } = next;
    return info;
  }

  async list(): Promise<TokenInfo[]> {
    const out: TokenInfo[] = [];
    for await (const k of await this.kv.keys()) {
      const r = await this.#get(k);
      if (r) {
        const { hash: _hash, users: _users, nodes: _nodes, actors: _actors, ...info } = r;
        out.push(info);
      }
    }
    return out.sort((a, b) => a.created_at.localeCompare(b.created_at));
  }

  /** Ids of revoked worker (join) tokens: the head refuses their pool joins. */
  async revokedWorkerTokens(): Promise<Set<string>> {
    return new Set((await this.list()).filter((t) => t.role === 'worker' && t.revoked_at).map((t) => t.id));
  }

  /** A one-time dashboard login code (a token named `login`, valid 10 min): GET /login?code= trades it for a session. */
  async loginCode(role: Role = 'admin'): Promise<{ code: string; expires_at: string }> {
    const { info, token } = await this.create(role, 'login', { expiresInMs: 10 * 60_000 });
    return { code: token, expires_at: info.expires_at ?? '' };
  }

  /** Whether a valid admin token exists (first start: none, so one is made and printed). */
  async hasAdmin(): Promise<boolean> {
    return (await this.list()).some((t) => t.role === 'admin' && !t.revoked_at && !t.expires_at);
  }
}

/** The NATS user (public key) a join token's creds belong to, and the node id of a node-bound one. */
function joinNode(token: string): { user?: string; nodeId?: string } {
  try {
    const j = parseJoinToken(token);
    const sub = jwtClaims(credsJwt(j.creds)).sub;
    return { ...(sub ? { user: sub } : {}), ...(j.kind === 'node' ? { nodeId: j.nodeId } : {}) };
  } catch {
    return {};
  }
}

/** `p`, or a rejection after `ms` (p's own outcome is then ignored). */
function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer from KV in ${ms} ms`)), ms);
  });
  p.catch(() => undefined);
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

const union = (a: string[] | undefined, b: string[]): string[] => [...new Set([...(a ?? []), ...b])];
