/**
 * `flotilla head [flags]`: runs the head (REST API, scheduler, supervisor, optional autoscaler)
 * against an existing NATS, in the foreground until SIGTERM/SIGINT.
 */
import { parseArgs } from 'node:util';
import type { ConfigInput } from '../../shared/config.ts';
import { applyJsDomainFlag } from '../../shared/js-domain.ts';
import type { AutoscaleFlags } from '../../head/run.ts';

const USAGE = `usage: flotilla head [options]

  --nats URL            NATS server URL(s) (env FLOTILLA_NATS_URL, default nats://127.0.0.1:4222)
  --nats-creds FILE     the head's NATS creds (env FLOTILLA_NATS_CREDS; head.creds of \`flotilla nats-trust\`)
  --nats-revoker FILE   revoker.json of \`flotilla nats-trust\`: revoking a worker token cuts its nodes off the servers
                        (env FLOTILLA_NATS_REVOKER)
  --nats-ca FILE        CA of the NATS servers' TLS certificates (env FLOTILLA_NATS_CA; ca.pem of \`flotilla certs\`)
  --join-token-file F   keep a pool worker join token in file F (0600; written when F holds no valid one) for
                        workers that read it from a shared volume (env FLOTILLA_JOIN_TOKEN_FILE)
  --js-domain D         JetStream domain of the servers (env FLOTILLA_JS_DOMAIN, default flotilla; none = no domain)
  --signing-key FILE    account signing seed to mint worker/actor creds (env FLOTILLA_NATS_SIGNING_KEY; signing.nk)
  --prefix P            subject/bucket prefix (env FLOTILLA_PREFIX, default flotilla)
  --insecure            REST without authentication (a warning is printed)
  --tls-cert F --tls-key F  serve REST over HTTPS (env FLOTILLA_TLS_CERT, FLOTILLA_TLS_KEY)
  --host H              HTTP listen address (env FLOTILLA_HEAD_HOST, default 127.0.0.1)
  --port P              HTTP port (env FLOTILLA_HEAD_PORT, default 8080; 0 = any)
  --config FILE         JSON/YAML config file (env FLOTILLA_CONFIG)
  --replicas N          replicas of every KV bucket, stream and object store
                        (env FLOTILLA_JS_REPLICAS, config jetstream.replicas; default min(3, servers))
  --autoscale KIND      none (default) | local | exec
  --min-workers N       autoscaler: workers kept when idle (default 0)
  --max-workers N       autoscaler: most workers (default 4)
  --idle-timeout-ms MS  autoscaler: stop a worker idle this long (default 60000)
  --slots N             autoscaler: slots per started worker (default 1)
  --scale-up-cmd CMD    exec provider: starts a worker (env FLOTILLA_NODE_ID, FLOTILLA_NATS_URL, ...)
  --scale-down-cmd CMD  exec provider: stops worker $FLOTILLA_NODE_ID
  --scale-list-cmd CMD  exec provider: prints the running workers' node ids, one a line, for
                        platforms that scale a count and name workers themselves (deploy/k8s)`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      nats: { type: 'string' },
      'nats-creds': { type: 'string' },
      'signing-key': { type: 'string' },
      'nats-ca': { type: 'string' },
      'nats-revoker': { type: 'string' },
      'join-token-file': { type: 'string' },
      'js-domain': { type: 'string' },
      insecure: { type: 'boolean' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      prefix: { type: 'string' },
      host: { type: 'string' },
      port: { type: 'string' },
      config: { type: 'string' },
      replicas: { type: 'string' },
      autoscale: { type: 'string' },
      'min-workers': { type: 'string' },
      'max-workers': { type: 'string' },
      'idle-timeout-ms': { type: 'string' },
      slots: { type: 'string' },
      'scale-up-cmd': { type: 'string' },
      'scale-down-cmd': { type: 'string' },
      'scale-list-cmd': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  // read by every NATS connection of this process (shared/nats-connect.ts) and of the workers it starts
  if (values['nats-ca']) process.env.FLOTILLA_NATS_CA = values['nats-ca'];
  try {
    applyJsDomainFlag(values['js-domain']);
  } catch (e) {
    console.error(`flotilla head: ${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const overrides: ConfigInput = {};
  if (values.nats) overrides.natsUrl = values.nats;
  if (values.prefix) overrides.prefix = values.prefix;
  if (values.replicas) overrides.jetstream = { replicas: Number(values.replicas) };
  if (values['nats-creds']) overrides.natsCreds = values['nats-creds'];
  if (values['signing-key']) overrides.natsSigningKey = values['signing-key'];
  if (values['nats-revoker']) overrides.natsRevoker = values['nats-revoker'];
  if (values['join-token-file']) overrides.joinTokenFile = values['join-token-file'];
  if (values.host || values.port)
    overrides.head = { ...(values.host ? { host: values.host } : {}), ...(values.port ? { port: Number(values.port) } : {}) };
  const kind = values.autoscale ?? 'none';
  if (kind !== 'none' && kind !== 'local' && kind !== 'exec') {
    console.error(`flotilla head: --autoscale must be none, local or exec\n\n${USAGE}`);
    return 2;
  }
  const n = (x?: string) => (x === undefined ? undefined : Number(x));
  const autoscale: AutoscaleFlags = {
    provider: kind,
    minWorkers: n(values['min-workers']),
    maxWorkers: n(values['max-workers']),
    idleTimeoutMs: n(values['idle-timeout-ms']),
    slotsPerWorker: n(values.slots),
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
