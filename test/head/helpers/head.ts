/** A head on a fresh nats-server and prefix, torn down with the test. */
import type { Test } from 'tap';
import { startNatsServer, uniquePrefix, type NatsServer } from '../../kit/nats-server.ts';
import { startHead, type Head, type HeadOptions } from '../../../head/head.ts';
import { FakeAgent, fakeAgentOptions, type FakeGpus } from './fake-agent.ts';

export interface HeadFixture {
  nats: NatsServer;
  prefix: string;
  head: Head;
  /** `gpus`: the node's GPUs (none by default) */
  agent(nodeId: string, slots: number, gpus?: FakeGpus): Promise<FakeAgent>;
}

export async function headFixture(t: Test, opts: Partial<HeadOptions> = {}): Promise<HeadFixture> {
  const nats = await startNatsServer();
  const prefix = uniquePrefix('h');
  const agents: FakeAgent[] = [];
  const head = await startHead({
    natsUrl: nats.url,
    natsCreds: nats.auth?.headCreds,
    natsSigningKey: nats.auth?.signingKey,
    natsRevoker: nats.auth?.revoker,
    prefix,
    port: null,
    deadAfterMs: 2000,
    restartBackoffMs: 50,
    tickMs: 100,
    ...opts,
  });
  t.teardown(async () => {
    await head.stop();
    for (const a of agents) await a.stop();
    await nats.stop();
  });
  return {
    nats,
    prefix,
    head,
    async agent(nodeId, slots, gpus) {
      const a = await new FakeAgent(await fakeAgentOptions(nats, prefix, nodeId), prefix, nodeId, slots, gpus).start();
      agents.push(a);
      return a;
    },
  };
}
