/**
 * Connection options of every Flotilla NATS client from one credential: a creds file (user JWT
 * + nkey seed, as `nsc` writes them), given as a path or as the text itself. The client's
 * inbox prefix comes from its own permissions (the one `_INBOX.….>` it may subscribe), so
 * request/reply and JetStream work under a user that cannot read others' inboxes.
 */
import { natsCaSetting } from './nats-settings.ts';
import { readFileSync } from 'node:fs';
import type { NodeConnectionOptions, ReconnectToServerHandler } from '@nats-io/transport-node';
import { credsAuthenticator } from './native-nkey.ts';
import { FlotillaError } from './errors.ts';
import { installCutLayer } from './nats-cut.ts';

/** The creds text: `creds` itself when it holds a JWT block, else the file it names. */
export function credsText(creds: string): string {
  if (creds.includes('-----BEGIN NATS USER JWT-----')) return creds;
  try {
    return readFileSync(creds, 'utf8');
  } catch (e) {
    throw new FlotillaError('FLO_CONFIG', `cannot read NATS credentials ${creds}: ${(e as Error).message}`);
  }
}

/** The user JWT inside a creds text. */
export function credsJwt(text: string): string {
  const m = /-----BEGIN NATS USER JWT-----\s*\n\s*(\S+)\s*\n/.exec(text);
  if (!m) throw new FlotillaError('FLO_CONFIG', 'NATS credentials hold no user JWT');
  return m[1];
}

/** The claims of a user JWT (not verified: the server does that). */
export function jwtClaims(jwt: string): { name?: string; sub?: string; nats?: { sub?: { allow?: string[] }; issuer_account?: string } } {
  const part = jwt.split('.')[1] ?? '';
  try {
    return JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  } catch {
    throw new FlotillaError('FLO_CONFIG', 'NATS credentials hold a malformed JWT');
  }
}

/** The inbox prefix a user may subscribe (`_INBOX.x.y.>` -> `_INBOX.x.y`), or undefined for one with no limit. */
export function inboxPrefixOf(jwt: string): string | undefined {
  const allow = jwtClaims(jwt).nats?.sub?.allow ?? [];
  const inbox = allow.find((a) => a.startsWith('_INBOX.') && a.endsWith('.>'));
  return inbox?.slice(0, -2);
}

/**
 * The client's TLS: the CA file of this process's settings (nats-settings.ts: `--nats-ca`,
 * FLOTILLA_NATS_CA; actors get it from their agent), or of `env` when given, or the system CAs for `tls://` URLs. Either makes TLS required: such a
 * client refuses a server that does not offer it rather than talk in the clear. Neither: none
 * (nats.js still upgrades when a server requires TLS, and then trusts only the system CAs).
 */
export function natsTls(servers: readonly string[], env?: NodeJS.ProcessEnv): { caFile?: string } | undefined {
  const ca = env ? env.FLOTILLA_NATS_CA || undefined : natsCaSetting();
  if (ca) return { caFile: ca };
  return servers.some((s) => /^tls:\/\//i.test(s.trim())) ? {} : undefined;
}

/**
 * How fast a client notices that its server is gone and moves to another one of its URL list.
 * A partitioned server sends nothing (no RST, no FIN), so only the client's own PINGs find out:
 * a PING every `pingIntervalMs`, and a connection with `maxPingOut` PINGs unanswered is stale
 * (1.0-1.5 s after the last PONG with the defaults), closed and redialled. The redial goes to the
 * server of the list dialled longest ago (`leastRecentlyDialled`: never the one just lost), and a
 * dial that gets no answer gives up after `dialTimeoutMs` and tries the next. An actor's lease and
 * the head's dead-node threshold are 3 s (`deadAfterMs`), so an actor or agent whose server is cut
 * off is on another server (~1.2-1.7 s) before either runs out. A PONG queued behind more than
 * ~1 s of data (a link far slower than the traffic on it) reads as a dead server and costs a
 * reconnect; FLOTILLA_NATS_PING_MS raises the interval for such links (the lease must then grow too).
 */
export const LIVENESS = { pingIntervalMs: 500, maxPingOut: 2, reconnectTimeWaitMs: 250, dialTimeoutMs: 5000 } as const;

/** The ping interval of this process: FLOTILLA_NATS_PING_MS, else LIVENESS.pingIntervalMs. */
export function pingIntervalMs(env: NodeJS.ProcessEnv = process.env): number {
  const v = Number(env.FLOTILLA_NATS_PING_MS);
  return Number.isInteger(v) && v >= 100 ? v : LIVENESS.pingIntervalMs;
}

/**
 * nats.js redials the server it just lost first (its pool rotates only from the second pick on),
 * and a partitioned server answers that dial with silence until the dial times out. This picks
 * the server dialled longest ago instead (the one just lost was dialled last: every dial stamps
 * `lastConnect`), the library's own pick when it ties.
 */
export const leastRecentlyDialled: ReconnectToServerHandler = (pool) => {
  let best = pool[0];
  for (const s of pool) if (s.lastConnect < best.lastConnect) best = s;
  return best ?? null;
};

/** Options for connect(): servers, TLS (natsTls), failover (LIVENESS), and the authenticator and inbox prefix of `creds` when given. */
export function natsOptions(servers: string | string[], creds?: string, extra: Partial<NodeConnectionOptions> = {}): NodeConnectionOptions {
  installCutLayer();
  const list = Array.isArray(servers) ? servers : servers.split(',');
  const tls = natsTls(list);
  const liveness: Partial<NodeConnectionOptions> = {
    pingInterval: pingIntervalMs(),
    maxPingOut: LIVENESS.maxPingOut,
    reconnectTimeWait: LIVENESS.reconnectTimeWaitMs,
    timeout: LIVENESS.dialTimeoutMs,
    reconnectToServer: leastRecentlyDialled,
    // a client given the whole list keeps to it: a server's gossiped addresses would add a second
    // entry for each server (its IP next to its name) and a lost server could be redialled by IP
    ...(list.length > 1 ? { ignoreClusterUpdates: true } : {}),
  };
  const base = { servers: list, ...(tls ? { tls } : {}), ...liveness };
  if (!creds) return { ...base, ...extra };
  const text = credsText(creds);
  const inboxPrefix = inboxPrefixOf(credsJwt(text));
  return { ...base, authenticator: credsAuthenticator(text), ...(inboxPrefix ? { inboxPrefix } : {}), ...extra };
}
