/**
 * A real local cluster for the dashboard: nats-server, a head listening on a free port and N
 * local worker agents (child processes started by the head's local autoscaler provider). Used
 * by the browser test and by `npm run screenshots`.
 */
import { startNatsServer, uniquePrefix, type NatsServer } from '../kit/nats-server.ts';
import { startHead, type Head } from '../../head/head.ts';
import { LocalProvider } from '../../head/autoscaler/provider-local.ts';
import { coreShareEnv } from '../../worker/agent/index.ts';
import { HeadClient } from '../../bin/cli/client.ts';

export interface DashboardCluster {
  nats: NatsServer;
  head: Head;
  api: HeadClient;
  url: string;
  stop(): Promise<void>;
}

/** `restAuth`: the head takes tokens as `flotilla up` does (api then uses the first admin token). */
export async function startDashboardCluster(
  workers: number,
  slots = 1,
  opts: { restAuth?: boolean; paths?: { datasets?: string; models?: string } } = {},
): Promise<DashboardCluster> {
  const nats = await startNatsServer();
  const prefix = uniquePrefix('dash');
  try {
    const head = await startHead({
      natsUrl: nats.url,
      ...nats.auth?.headOptions,
      prefix,
      host: '127.0.0.1',
      port: 0,
      restAuth: opts.restAuth ?? false,
      ...(opts.paths ? { paths: opts.paths } : {}),
      autoscaler: {
        provider: new LocalProvider({ natsUrl: nats.url, prefix, slots, output: 'ignore', env: coreShareEnv(workers * slots) }),
        minWorkers: workers,
        maxWorkers: workers,
        slotsPerWorker: slots,
        namePrefix: 'dash',
      },
    });
    return {
      nats,
      head,
      api: new HeadClient(head.url, head.firstAdminToken),
      url: head.url,
      async stop() {
        await head.stop();
        await nats.stop();
      },
    };
  } catch (e) {
    await nats.stop();
    throw e;
  }
}
