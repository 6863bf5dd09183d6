/**
 * The NATS client settings of this process that every connection shares: the CA of the servers'
 * TLS certificates and the JetStream domain. A command sets them once from its Config
 * (useNatsSettings: `--nats-ca`, `--js-domain`, FLOTILLA_NATS_CA, FLOTILLA_JS_DOMAIN, a config
 * file), nats-connect.ts and js-domain.ts read them, and the processes this one starts get them
 * as FLOTILLA_NATS_CA / FLOTILLA_JS_DOMAIN (natsSettingsEnv, the child-process handoff). A process
 * that never set them (an actor, a test) reads those variables from its environment.
 */
import type { Config } from './config.ts';

let current: { natsCa?: string; jsDomain: string } | undefined;

/** This process's settings, from its Config. */
export function useNatsSettings(c: Pick<Config, 'natsCa' | 'jsDomain'>): void {
  current = { ...(c.natsCa ? { natsCa: c.natsCa } : {}), jsDomain: c.jsDomain };
}

/** The settings set aside (tests). */
export function resetNatsSettings(): void {
  current = undefined;
}

/** The CA file, from the settings or else `env`. */
export function natsCaSetting(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return current ? current.natsCa : env.FLOTILLA_NATS_CA || undefined;
}

/** The JetStream domain as written (`none`: no domain; undefined: the default), from the settings or else `env`. */
export function jsDomainSetting(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return current ? current.jsDomain : env.FLOTILLA_JS_DOMAIN;
}

/** What a started process (a worker, an actor) needs in its environment to use the same settings. */
export function natsSettingsEnv(): Record<string, string> {
  const ca = natsCaSetting();
  const domain = jsDomainSetting();
  return { ...(ca ? { FLOTILLA_NATS_CA: ca } : {}), ...(domain !== undefined ? { FLOTILLA_JS_DOMAIN: domain } : {}) };
}
