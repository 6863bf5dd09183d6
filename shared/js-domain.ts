/**
 * The JetStream domain every Flotilla client addresses, and the one place JetStream contexts are
 * made. Every server Flotilla starts or ships sets `jetstream { domain: flotilla }`, and every
 * client asks through `$JS.flotilla.API.…` instead of `$JS.API.…`: the server answers both for
 * its own clients, and only the domain form crosses a leaf connection (nats-server denies
 * `$JS.API.>`, `$KV.>` and `$OBJ.>` over a leaf whose side has no JetStream: "JetStream Not
 * Extended"). So a worker host's leaf server needs no subject mapping, which nats-server 2.9
 * refuses in operator mode, and can authenticate each local process with its own JWT.
 *
 * The domain comes from this process's settings (nats-settings.ts: the Config's jsDomain, set by
 * `--js-domain` or FLOTILLA_JS_DOMAIN; actors get it from their agent), default `flotilla`; `none` (or an empty value) means the plain `$JS.API` of a server
 * without a domain. Every process of a cluster must use the same domain, and the head mints the
 * actors' permissions for its own (head/auth/nats-permissions.ts).
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream, type JetStreamClient, type JetStreamOptions } from '@nats-io/jetstream';
import { FlotillaError } from './errors.ts';
import { jsDomainSetting } from './nats-settings.ts';

/** The domain of the shipped configs and of every server Flotilla starts. */
export const DEFAULT_JS_DOMAIN = 'flotilla';

/** The JetStream domain of this process (undefined: no domain, plain `$JS.API`). */
export function jsDomain(env?: NodeJS.ProcessEnv): string | undefined {
  const raw = env ? env.FLOTILLA_JS_DOMAIN : jsDomainSetting();
  if (raw === undefined) return DEFAULT_JS_DOMAIN;
  const d = raw.trim();
  if (d === '' || d === 'none') return undefined;
  // a domain is one subject token: no dots, spaces or wildcards
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(d))
    throw new FlotillaError('FLO_CONFIG', `FLOTILLA_JS_DOMAIN '${raw}': use 1-64 of [A-Za-z0-9_-], or 'none'`);
  return d;
}

/** The JetStream API prefix of `domain`: `$JS.<domain>.API`, or `$JS.API` without one. */
export function jsApiPrefix(domain: string | undefined): string {
  return domain ? `$JS.${domain}.API` : '$JS.API';
}

/** Options for jetstream()/jetstreamManager() in this process's domain, plus `extra`. */
export function jsOptions(extra: JetStreamOptions = {}): JetStreamOptions {
  const domain = jsDomain();
  return { ...(domain ? { domain } : {}), ...extra };
}

/** A JetStream client in this process's domain (KV and object stores are opened on it). */
export function jsClient(nc: NatsConnection, extra: JetStreamOptions = {}): JetStreamClient {
  return jetstream(nc, jsOptions(extra));
}
