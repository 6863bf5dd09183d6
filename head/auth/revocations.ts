/**
 * Revoking NATS users now, not at their next login: the account JWT carries `revocations`
 * (user public key -> time; a JWT of that user issued before it is invalid), and a server that
 * gets a newer account JWT disconnects the users it revokes ("User Authentication Revoked")
 * and refuses them from then on. The head re-signs the account JWT the servers preload with an
 * operator signing key, adds the revocations, and sends it as a system-account user on
 * `$SYS.REQ.ACCOUNT.<id>.CLAIMS.UPDATE` (nats-server 2.9's MEMORY resolver accepts updates of an
 * account it already holds; every server of a cluster gets the message through its routes).
 * The update lives in server memory only: a restarted server is back to its preload, so the
 * head sends the list again at start, whenever its system-account connection reconnects (the
 * server it was on came back), and every REPUSH_MS (for the other servers of a cluster).
 */
import { readFileSync } from 'node:fs';
import { decode as decodeJwt, encodeAccount, fromSeed, type Account } from '@nats-io/jwt';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { z } from 'zod';
import { validate } from '../../shared/codec.ts';
import { FlotillaError } from '../../shared/errors.ts';
import { natsOptions } from '../../shared/nats-connect.ts';
import type { RevokerMaterial } from './nats-trust.ts';

/** How often the head repeats the revocation list (servers restarted meanwhile forget it). */
export const REPUSH_MS = 30_000;

const Material = z.object({
  operator_signing_seed: z.string().startsWith('SO'),
  sys_creds: z.string().min(1),
  account_jwt: z.string().min(1),
});
/** The servers' answer to an account JWT update. */
const UpdateReply = z
  .object({
    data: z.object({ code: z.number(), message: z.string().optional(), account: z.string().optional() }).passthrough().optional(),
    error: z.object({ code: z.number().optional(), description: z.string().optional() }).passthrough().optional(),
  })
  .passthrough();

/** revoker.json of a trust dir (a path or its JSON text). */
export function readRevoker(fileOrText: string): RevokerMaterial {
  let text = fileOrText;
  if (!fileOrText.trim().startsWith('{')) {
    try {
      text = readFileSync(fileOrText, 'utf8');
    } catch (e) {
      throw new FlotillaError('FLO_CONFIG', `cannot read the NATS revoker file ${fileOrText}: ${(e as Error).message}`);
    }
  }
  try {
    return validate(Material, JSON.parse(text));
  } catch (e) {
    throw new FlotillaError('FLO_CONFIG', `the NATS revoker file is not revoker.json of \`flotilla nats-trust\`: ${(e as Error).message}`);
  }
}

export class AccountRevoker {
  readonly #m: RevokerMaterial;
  readonly #servers: string[];
  #nc: Promise<NatsConnection> | undefined;
  /** called when the system-account connection reconnects (its server may have restarted) */
  onReconnect: () => void = () => {};

  constructor(material: RevokerMaterial, servers: string | string[]) {
    this.#m = material;
    this.#servers = Array.isArray(servers) ? servers : servers.split(',');
  }

  /** The account JWT with these revocations, re-signed by the operator signing key. */
  async accountJwt(revocations: Record<string, number>): Promise<string> {
    const orig = decodeJwt<Account>(this.#m.account_jwt);
    const claims = orig.nats as Partial<Account> & { type?: string; version?: number };
    const { type: _type, version: _version, ...account } = claims;
    return encodeAccount(
      orig.name,
      orig.sub,
      { ...account, revocations },
      { signer: fromSeed(new TextEncoder().encode(this.#m.operator_signing_seed)) },
    );
  }

  /** Sends the account JWT with `revocations` (public key -> unix seconds) and resolves once a server applied it. */
  async push(revocations: Record<string, number>): Promise<void> {
    const jwt = await this.accountJwt(revocations);
    const account = decodeJwt(jwt).sub;
    this.#nc ??= connect(
      natsOptions(this.#servers, this.#m.sys_creds, { name: 'flotilla-head-revoker', maxReconnectAttempts: -1, reconnectTimeWait: 500 }),
    ).then((c) => {
      void (async () => {
        for await (const st of c.status()) if (st.type === 'reconnect') this.onReconnect();
      })();
      return c;
    });
    let nc: NatsConnection;
    try {
      nc = await this.#nc;
    } catch (e) {
      this.#nc = undefined;
      throw new FlotillaError('FLO_UNAVAILABLE', `cannot connect as the system account to push revocations: ${(e as Error).message}`, {
        cause: e,
      });
    }
    const m = await nc
      .request(`$SYS.REQ.ACCOUNT.${account}.CLAIMS.UPDATE`, new TextEncoder().encode(jwt), { timeout: 5000 })
      .catch((e: Error) => {
        throw new FlotillaError('FLO_UNAVAILABLE', `no server answered the revocation update: ${e.message}`, { cause: e });
      });
    const r = validate(UpdateReply, m.json());
    if (r.data?.code !== 200)
      throw new FlotillaError('FLO_UNAVAILABLE', `the server refused the revocation update: ${JSON.stringify(r.error ?? r.data)}`);
  }

  async close(): Promise<void> {
    const p = this.#nc;
    this.#nc = undefined;
    if (p)
      await p.then(
        (nc) => nc.close(),
        () => undefined,
      );
  }
}

/** What the head runs: the revoked users of `list()` pushed now, at start and every REPUSH_MS. */
export interface RevocationSync {
  /** pushes the current list; rejects when no server took it (it is pushed again later) */
  now(): Promise<void>;
  stop(): Promise<void>;
}

export function syncRevocations(
  revoker: AccountRevoker,
  list: () => Promise<Record<string, number>>,
  onError: (err: Error) => void,
  everyMs = REPUSH_MS,
): RevocationSync {
  let last = '';
  const now = async () => {
    const r = await list();
    // nothing revoked yet and nothing sent before: no update needed
    if (Object.keys(r).length === 0 && last === '') return;
    await revoker.push(r);
    last = JSON.stringify(r);
  };
  const tick = () => {
    void now().catch(onError);
  };
  revoker.onReconnect = tick;
  tick();
  const timer = setInterval(tick, everyMs);
  timer.unref();
  return {
    now,
    async stop() {
      clearInterval(timer);
      await revoker.close();
    },
  };
}
