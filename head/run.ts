/**
 * Runs a head as the foreground of a process: config from shared/config (file, env
 * FLOTILLA_*, overrides), a pino logger at the edge, one stdout line with the URL once it
 * listens, and a clean stop on SIGTERM/SIGINT.
 */
import { loadConfig, type ConfigInput } from '../shared/config.ts';
import { useNatsSettings } from '../shared/nats-settings.ts';
import { createLogger } from '../shared/logger.ts';
import { startHead, tlsOption, type Head } from './head.ts';
import { announceAuth } from './auth/announce.ts';
import type { AutoscalerOptions } from './autoscaler/autoscaler.ts';
import type { WorkerProvider } from './autoscaler/provider.ts';
import { LocalProvider } from './autoscaler/provider-local.ts';
import { ExecProvider } from './autoscaler/provider-exec.ts';

/** Autoscaling from the command line or env; provider 'none' (default) disables it. */
export interface AutoscaleFlags {
  provider: 'none' | 'local' | 'exec';
  minWorkers?: number;
  maxWorkers?: number;
  idleTimeoutMs?: number;
  slotsPerWorker?: number;
  upCommand?: string;
  downCommand?: string;
  /** exec provider: prints the running workers' node ids (replica-count platforms such as Kubernetes) */
  listCommand?: string;
  /** local workers' output (default 'ignore') */
  workerOutput?: 'inherit' | 'ignore';
}

export function makeProvider(f: AutoscaleFlags, natsUrl: string, prefix: string): WorkerProvider | undefined {
  const env = { natsUrl, prefix, slots: f.slotsPerWorker ?? 1 };
  if (f.provider === 'local') return new LocalProvider({ ...env, output: f.workerOutput ?? 'ignore' });
  if (f.provider === 'exec') {
    if (!f.upCommand || !f.downCommand) throw new Error('the exec provider needs --scale-up-cmd and --scale-down-cmd');
    return new ExecProvider({ ...env, upCommand: f.upCommand, downCommand: f.downCommand, listCommand: f.listCommand });
  }
  return undefined;
}

export interface RunHeadOptions {
  configFile?: string;
  overrides?: ConfigInput;
  autoscale?: AutoscaleFlags;
  /** REST without authentication (default false: tokens) */
  insecure?: boolean;
  /** HTTPS: certificate and key files (default: the config's head.tlsCert / head.tlsKey) */
  tlsCert?: string;
  tlsKey?: string;
  /** called once the head listens (e.g. to print more) */
  onReady?: (head: Head) => void;
}

/** Starts a head and resolves with its exit code once a signal stopped it. */
export async function runHead(o: RunHeadOptions = {}): Promise<number> {
  const config = loadConfig({ file: o.configFile, overrides: o.overrides });
  // every NATS connection of this process, and the workers it starts, use the config's CA and domain
  useNatsSettings(config);
  const log = createLogger({ role: 'head' });
  const provider = o.autoscale ? makeProvider(o.autoscale, config.natsUrl, config.prefix) : undefined;
  const autoscaler: AutoscalerOptions | undefined =
    provider && o.autoscale
      ? {
          provider,
          minWorkers: o.autoscale.minWorkers,
          maxWorkers: o.autoscale.maxWorkers,
          idleTimeoutMs: o.autoscale.idleTimeoutMs,
          slotsPerWorker: o.autoscale.slotsPerWorker,
        }
      : undefined;
  let lost = () => undefined as void;
  const head = await startHead({
    onLeaseLost: () => lost(),
    paths: config.paths,
    restAuth: !o.insecure && !config.head.insecure,
    tls: tlsOption(o.tlsCert ?? config.head.tlsCert, o.tlsKey ?? config.head.tlsKey),
    natsUrl: config.natsUrl,
    natsCreds: config.natsCreds,
    natsSigningKey: config.natsSigningKey,
    natsRevoker: config.natsRevoker,
    joinTokenFile: config.joinTokenFile,
    prefix: config.prefix,
    host: config.head.host,
    port: config.head.port,
    deadAfterMs: config.head.deadAfterMs,
    restartBackoffMs: config.head.restartBackoffMs,
    autoscaler,
    log,
    replicas: config.jetstream.replicas,
  });
  log.info({ url: head.url, head: head.id }, 'head listening');
  await announceAuth(head); // before the listening line: who waits for it finds the token saved
  process.stdout.write(`flotilla head listening on ${head.url}\n`);
  o.onReady?.(head);
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (sig: string) => {
      if (stopping) return;
      stopping = true;
      log.info({ signal: sig }, 'head stopping');
      head.stop().then(
        () => resolve(0),
        () => resolve(1),
      );
    };
    lost = () => {
      log.error({}, 'another head took over; exiting');
      head.stop().then(
        () => resolve(1),
        () => resolve(1),
      );
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}
