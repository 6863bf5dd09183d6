/** The NATS flags that `worker`, `head` and `dataset` share, and the Config overrides they make. */
import { z } from 'zod';
import type { ConfigInput } from '../../shared/config.ts';
import { flag } from './parse.ts';

export const natsFlags = {
  nats: flag.str('URL', 'NATS server URL(s), comma separated (env FLOTILLA_NATS_URL, default nats://127.0.0.1:4222)'),
  'nats-ca': flag.str(
    'FILE',
    "CA of the NATS servers' TLS certificates (env FLOTILLA_NATS_CA; ca.pem of `flotilla certs`); TLS is then required",
  ),
  'js-domain': z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/, { error: "use 1-64 of [A-Za-z0-9_-], or 'none'" })
    .optional()
    .meta({ arg: 'D', description: 'JetStream domain of the servers (env FLOTILLA_JS_DOMAIN, default flotilla; none = no domain)' }),
  prefix: flag.str('P', 'subject/bucket prefix (env FLOTILLA_PREFIX, default flotilla)'),
};

/** The Config overrides of the NATS flags given. */
export function natsOverrides(v: { nats?: string; 'nats-ca'?: string; 'js-domain'?: string; prefix?: string }): ConfigInput {
  return {
    ...(v.nats ? { natsUrl: v.nats } : {}),
    ...(v['nats-ca'] ? { natsCa: v['nats-ca'] } : {}),
    ...(v['js-domain'] ? { jsDomain: v['js-domain'] } : {}),
    ...(v.prefix ? { prefix: v.prefix } : {}),
  };
}
