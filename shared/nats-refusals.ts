/**
 * A server's refusals as one clear line each, for operators: a connect the server refuses
 * (authorization, expired or revoked credentials, TLS), and a publish or subscribe its
 * permissions forbid (nats.js reports those as `error` statuses, which nothing else reads).
 * `connectClear` turns a refused connect into a FLO_CONFIG error saying what to do;
 * `watchRefusals` logs each permission violation once (again after 60 s of quiet).
 */
import {
  connect,
  AuthorizationError,
  PermissionViolationError,
  UserAuthenticationExpiredError,
  type NatsConnection,
  type NodeConnectionOptions,
} from '@nats-io/transport-node';
import { FlotillaError } from './errors.ts';

interface Warner {
  warn(obj: object, msg: string): void;
}

const TLS_CODES = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|ERR_TLS|ERR_SSL|HOSTNAME_MISMATCH/;

function chain(e: unknown): unknown[] {
  const out: unknown[] = [];
  for (let c = e; c && out.length < 6; c = (c as { cause?: unknown }).cause) out.push(c);
  return out;
}

/** One line for a refusal by the server at `where` seen by `who`, or undefined for anything else (a timeout, a dead server). */
export function describeRefusal(err: unknown, where: string, who: string): string | undefined {
  for (const e of chain(err)) {
    const msg = (e as Error)?.message ?? String(e);
    const code = String((e as { code?: unknown })?.code ?? '');
    if (e instanceof UserAuthenticationExpiredError || (/expired/i.test(msg) && /auth/i.test(msg))) {
      return `NATS server ${where} refused ${who}: its credentials expired (${msg}); get new ones (flotilla token create --role worker)`;
    }
    if (e instanceof AuthorizationError || /Authorization Violation/i.test(msg)) {
      return (
        `NATS server ${where} refused ${who}: Authorization Violation (credentials revoked, expired, missing, or from another trust dir than the server's auth.conf); ` +
        'give it creds of this cluster (a worker: a join token from `flotilla token create --role worker`)'
      );
    }
    if (e instanceof PermissionViolationError || /Permissions Violation/i.test(msg)) {
      return `NATS server ${where} refused ${who}: ${msg} (its credentials do not allow that subject)`;
    }
    if (TLS_CODES.test(code) || /certificate|TLS|SSL|handshake/i.test(msg)) {
      return (
        `NATS server ${where} refused ${who}: TLS failed (${code ? `${code}: ` : ''}${msg}); give the client the CA of the servers' certificates ` +
        '(--nats-ca /etc/flotilla/nats/tls/ca.pem) and dial a name the certificate carries (flotilla certs --host H)'
      );
    }
  }
  return undefined;
}

/**
 * connect(), with a refused connect thrown as FLO_CONFIG carrying describeRefusal's line. With
 * `waitOnFirstConnect` nats.js retries a TLS failure forever without a word, so one plain attempt
 * goes first: a refusal is thrown; a server that is not up yet is waited for as asked.
 */
export async function connectClear(opts: NodeConnectionOptions, who: string): Promise<NatsConnection> {
  const servers = Array.isArray(opts.servers) ? opts.servers.join(',') : String(opts.servers ?? '');
  const clear = (err: unknown): unknown => {
    const line = describeRefusal(err, servers, who);
    return line ? new FlotillaError('FLO_CONFIG', line, { cause: err }) : err;
  };
  if (opts.waitOnFirstConnect) {
    const probe = await connect({ ...opts, waitOnFirstConnect: false, reconnect: false, maxReconnectAttempts: 0 }).catch((err: unknown) =>
      clear(err),
    );
    if (probe instanceof FlotillaError) throw probe;
    if (probe && typeof (probe as NatsConnection).close === 'function') await (probe as NatsConnection).close().catch(() => undefined);
  }
  try {
    return await connect(opts);
  } catch (err) {
    throw clear(err);
  }
}

/** Logs every refusal `nc` is told about (a permissions violation, an authorization error on reconnect) as one line; stops when `nc` closes. */
export function watchRefusals(nc: NatsConnection, log: Warner, who: string): void {
  const last = new Map<string, number>();
  void (async () => {
    for await (const st of nc.status()) {
      if (st.type !== 'error') continue;
      const line =
        describeRefusal(st.error, nc.getServer(), who) ?? `NATS server ${nc.getServer()} reported an error to ${who}: ${st.error.message}`;
      const now = Date.now();
      if ((last.get(line) ?? 0) > now - 60_000) continue;
      last.set(line, now);
      log.warn({ server: nc.getServer() }, line);
    }
  })().catch(() => undefined);
}
