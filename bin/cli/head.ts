/**
 * `flotilla head [flags]`: runs the head (REST API, scheduler, supervisor, optional autoscaler)
 * against an existing NATS, in the foreground until SIGTERM/SIGINT.
 */
import { z } from 'zod';
import type { ConfigInput } from '../../shared/config.ts';
import type { AutoscaleFlags } from '../../head/run.ts';
import { natsFlags, natsOverrides } from './nats-flags.ts';
import { defineCommand, flag, parse } from './parse.ts';

export const spec = defineCommand({
  name: 'head',
  flags: z.object({
    nats: natsFlags.nats,
    'nats-creds': flag.str('FILE', "the head's NATS creds (env FLOTILLA_NATS_CREDS; head.creds of `flotilla nats-trust`)"),
    'nats-revoker': flag.str(
      'FILE',
      'revoker.json of `flotilla nats-trust`: revoking a worker token cuts its nodes off the servers\n(env FLOTILLA_NATS_REVOKER)',
    ),
    'nats-ca': natsFlags['nats-ca'],
    'join-token-file': flag.str(
      'F',
      'keep a pool worker join token in file F (0600; written when F holds no valid one) for\nworkers that read it from a shared volume (env FLOTILLA_JOIN_TOKEN_FILE)',
    ),
    'js-domain': natsFlags['js-domain'],
    'signing-key': flag.str('FILE', 'account signing seed to mint worker/actor creds (env FLOTILLA_NATS_SIGNING_KEY; signing.nk)'),
    prefix: natsFlags.prefix,
    insecure: flag.bool('REST without authentication (env FLOTILLA_INSECURE=1; a warning is printed)'),
    'tls-cert': flag.str('F', 'serve REST over HTTPS: the certificate (env FLOTILLA_TLS_CERT; with --tls-key)'),
    'tls-key': flag.str('F', 'serve REST over HTTPS: the key (env FLOTILLA_TLS_KEY)'),
    host: flag.str('H', 'HTTP listen address (env FLOTILLA_HEAD_HOST, default 127.0.0.1)'),
    port: flag.int('P', 'HTTP port (env FLOTILLA_HEAD_PORT, default 8080; 0 = any)', 0, 65535),
    config: flag.str('FILE', 'JSON/YAML config file (env FLOTILLA_CONFIG)'),
    replicas: flag.int(
      'N',
      'replicas of every KV bucket, stream and object store\n(env FLOTILLA_JS_REPLICAS, config jetstream.replicas; default min(3, servers))',
      1,
      5,
    ),
    autoscale: flag.oneOf(['none', 'local', 'exec'], 'KIND', 'none (default) | local | exec'),
    'min-workers': flag.int('N', 'autoscaler: workers kept when idle (default 0)', 0),
    'max-workers': flag.int('N', 'autoscaler: most workers (default 4)', 0),
    'idle-timeout-ms': flag.int('MS', 'autoscaler: stop a worker idle this long (default 60000)', 0),
    slots: flag.int('N', 'autoscaler: slots per started worker (default 1)', 1),
    'scale-up-cmd': flag.str('CMD', 'exec provider: starts a worker (env FLOTILLA_NODE_ID, FLOTILLA_NATS_URL, ...)'),
    'scale-down-cmd': flag.str('CMD', 'exec provider: stops worker $FLOTILLA_NODE_ID'),
    'scale-list-cmd': flag.str(
      'CMD',
      "exec provider: prints the running workers' node ids, one a line, for\nplatforms that scale a count and name workers themselves (deploy/k8s)",
    ),
  }),
});

export async function run(argv: string[]): Promise<number> {
  const p = parse(spec, argv);
  if (!p.ok) return p.exit;
  const values = p.flags;
  const overrides: ConfigInput = natsOverrides(values);
  if (values.replicas !== undefined) overrides.jetstream = { replicas: values.replicas };
  if (values['nats-creds']) overrides.natsCreds = values['nats-creds'];
  if (values['signing-key']) overrides.natsSigningKey = values['signing-key'];
  if (values['nats-revoker']) overrides.natsRevoker = values['nats-revoker'];
  if (values['join-token-file']) overrides.joinTokenFile = values['join-token-file'];
  if (values.host || values.port !== undefined)
    overrides.head = { ...(values.host ? { host: values.host } : {}), ...(values.port !== undefined ? { port: values.port } : {}) };
  const autoscale: AutoscaleFlags = {
    provider: values.autoscale ?? 'none',
    minWorkers: values['min-workers'],
    maxWorkers: values['max-workers'],
    idleTimeoutMs: values['idle-timeout-ms'],
    slotsPerWorker: values.slots,
    upCommand: values['scale-up-cmd'],
    downCommand: values['scale-down-cmd'],
    listCommand: values['scale-list-cmd'],
  };
  const { runHead } = await import('../../head/run.ts');
  return runHead({
    configFile: values.config,
    overrides,
    autoscale,
    insecure: values.insecure,
    tlsCert: values['tls-cert'],
    tlsKey: values['tls-key'],
  });
}
