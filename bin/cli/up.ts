/**
 * `flotilla up`: the whole platform in one foreground command: an embedded nats-server, the
 * head, and N local workers (kept by the local autoscaler, which may add more up to
 * --max-workers for pending demand and stops the extra ones when idle). Prints the head URL;
 * Ctrl-C / SIGTERM stops workers, head and nats-server, in that order.
 */
import { z } from 'zod';
import { createLogger } from '../../shared/logger.ts';
import { startNatsServer } from '../../head/embedded-nats.ts';
import { startHead, tlsOption } from '../../head/head.ts';
import { announceAuth } from '../../head/auth/announce.ts';
import { LocalProvider } from '../../head/autoscaler/provider-local.ts';
import { coreShareEnv } from '../../worker/agent/index.ts';
import { defineCommand, flag, parse } from './parse.ts';

export const spec = defineCommand({
  name: 'up',
  flags: z.object({
    port: flag.int('P', 'head HTTP port (default 8080; 0 = any free port)', 0, 65535),
    host: flag.str('H', 'head HTTP address (default 127.0.0.1)'),
    workers: flag.int('N', 'local workers kept running (default 1)', 0),
    'max-workers': flag.int('M', 'autoscale up to M local workers for pending jobs (default N)', 0),
    slots: flag.int('S', 'actor slots per worker (default 1)', 1),
    'idle-timeout-ms': flag.int('MS', 'stop extra workers idle this long (default 60000)', 0),
    'nats-port': flag.int('P', 'nats-server client port (default: a free port)', 0, 65535),
    'data-dir': flag.str('DIR', 'keep JetStream state here (default: a temporary dir, removed on exit)'),
    prefix: flag.str('P', 'subject/bucket prefix (default flotilla)'),
    replicas: flag.int('N', 'replicas of the JetStream assets (default min(3, servers) = 1 here)', 1, 5),
    insecure: flag.bool(
      'REST without authentication (a warning is printed); default: tokens, an admin\ntoken made on first start is printed and saved to ~/.flotilla/credentials',
    ),
    'tls-cert': flag.str('F', 'serve REST over HTTPS: the certificate (with --tls-key)'),
    'tls-key': flag.str('F', 'serve REST over HTTPS: the key'),
    verbose: flag.bool('head and worker logs on stdout'),
  }),
});

export async function run(argv: string[]): Promise<number> {
  const p = parse(spec, argv);
  if (!p.ok) return p.exit;
  const values = p.flags;
  const workers = values.workers ?? 1;
  const maxWorkers = Math.max(workers, values['max-workers'] ?? workers);
  const slots = values.slots ?? 1;
  const prefix = values.prefix ?? 'flotilla';
  const log = createLogger({ role: 'head', level: values.verbose ? (process.env.FLOTILLA_LOG_LEVEL ?? 'info') : 'warn' });
  const nats = await startNatsServer({
    port: values['nats-port'] || undefined,
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
      port: values.port ?? 8080,
      log,
      replicas: values.replicas,
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
        idleTimeoutMs: values['idle-timeout-ms'] || undefined,
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
