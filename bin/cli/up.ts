/**
 * `flotilla up`: the whole platform in one foreground command: an embedded nats-server, the
 * head, and N local workers (kept by the local autoscaler, which may add more up to
 * --max-workers for pending demand and stops the extra ones when idle). Prints the head URL;
 * Ctrl-C / SIGTERM stops workers, head and nats-server, in that order.
 */
import { parseArgs } from 'node:util';
import { createLogger } from '../../shared/logger.ts';
import { startNatsServer } from '../../head/embedded-nats.ts';
import { startHead, tlsOption } from '../../head/head.ts';
import { announceAuth } from '../../head/auth/announce.ts';
import { LocalProvider } from '../../head/autoscaler/provider-local.ts';
import { coreShareEnv } from '../../worker/agent/index.ts';

const USAGE = `usage: flotilla up [options]

  --port P              head HTTP port (default 8080; 0 = any free port)
  --host H              head HTTP address (default 127.0.0.1)
  --workers N           local workers kept running (default 1)
  --max-workers M       autoscale up to M local workers for pending jobs (default N)
  --slots S             actor slots per worker (default 1)
  --idle-timeout-ms MS  stop extra workers idle this long (default 60000)
  --nats-port P         nats-server client port (default: a free port)
  --data-dir DIR        keep JetStream state here (default: a temporary dir, removed on exit)
  --prefix P            subject/bucket prefix (default flotilla)
  --replicas N          replicas of the JetStream assets (default min(3, servers) = 1 here)
  --insecure            REST without authentication (a warning is printed); default: tokens, an admin
                        token made on first start is printed and saved to ~/.flotilla/credentials
  --tls-cert F --tls-key F  serve REST over HTTPS
  --verbose             head and worker logs on stdout`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      workers: { type: 'string' },
      'max-workers': { type: 'string' },
      slots: { type: 'string' },
      'idle-timeout-ms': { type: 'string' },
      'nats-port': { type: 'string' },
      'data-dir': { type: 'string' },
      prefix: { type: 'string' },
      replicas: { type: 'string' },
      verbose: { type: 'boolean' },
      insecure: { type: 'boolean' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const int = (x: string | undefined, d: number, name: string) => {
    const v = x === undefined ? d : Number(x);
    if (!Number.isInteger(v) || v < 0) throw new Error(`--${name} must be a non-negative integer, got '${x}'`);
    return v;
  };
  const workers = int(values.workers, 1, 'workers');
  const maxWorkers = Math.max(workers, int(values['max-workers'], workers, 'max-workers'));
  const slots = Math.max(1, int(values.slots, 1, 'slots'));
  const prefix = values.prefix ?? 'flotilla';
  const log = createLogger({ role: 'head', level: values.verbose ? (process.env.FLOTILLA_LOG_LEVEL ?? 'info') : 'warn' });
  const nats = await startNatsServer({
    port: values['nats-port'] ? int(values['nats-port'], 0, 'nats-port') : undefined,
    storeDir: values['data-dir'],
  });
  let head;
  try {
    head = await startHead({
      restAuth: !values.insecure,
      tls: tlsOption(values['tls-cert'], values['tls-key']),
      natsUrl: nats.url,
      natsCreds: nats.auth?.headCreds,
      natsSigningKey: nats.auth?.signingKey,
      natsRevoker: nats.auth?.revoker,
      prefix,
      host: values.host ?? '127.0.0.1',
      port: int(values.port, 8080, 'port'),
      log,
      replicas: values.replicas ? Math.max(1, int(values.replicas, 1, 'replicas')) : undefined,
      autoscaler: {
        provider: new LocalProvider({
          natsUrl: nats.url,
          prefix,
          slots,
          output: values.verbose ? 'inherit' : 'ignore',
          env: coreShareEnv(maxWorkers * slots),
        }),
        minWorkers: workers,
        maxWorkers,
        slotsPerWorker: slots,
        idleTimeoutMs: values['idle-timeout-ms'] ? int(values['idle-timeout-ms'], 0, 'idle-timeout-ms') : undefined,
        namePrefix: 'local',
      },
    });
  } catch (e) {
    await nats.stop();
    throw e;
  }
  console.log(
    `flotilla up: nats ${nats.url}, ${workers} worker(s) x ${slots} slot(s)${maxWorkers > workers ? `, autoscaling to ${maxWorkers}` : ''}`,
  );
  await announceAuth(head, (l) => console.log(l)); // before the listening line: who waits for it finds the token saved
  console.log(`flotilla head listening on ${head.url}`);
  const h = head;
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (sig: string) => {
      if (stopping) return;
      stopping = true;
      console.log(`flotilla up: ${sig}, stopping workers, head and nats-server`);
      h.stop()
        .catch(() => undefined)
        .then(() => nats.stop())
        .then(
          () => resolve(0),
          () => resolve(1),
        );
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
}
