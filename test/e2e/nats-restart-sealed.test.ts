/**
 * Servers restart at any time, also once jobs have ended: the shipped 3-server cluster
 * (deploy/nats/cluster/n1..n3.conf on one machine, test/kit/lab-cluster.ts startShippedCluster),
 * two jobs run to success (the head seals their object stores), then each server in turn is
 * SIGKILLed and started again on its store, the next kill only once every stream has its three
 * replicas current again (test/kit/js-caught-up.ts). nats-server 2.9.10 panicked on exactly this
 * restart (a sealed stream in the cluster's meta log); every server must come back and rejoin,
 * and a new job must succeed on the cluster of three.
 */
import t from 'tap';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { startShippedCluster } from '../kit/lab-cluster.ts';
import { uniquePrefix } from '../kit/nats-server.ts';
import { caughtUp } from '../kit/js-caught-up.ts';
import { startHead } from '../../head/head.ts';
import { HeadClient } from '../../bin/cli/client.ts';
import { startAgentProc } from '../head/helpers/procs.ts';
import { until } from '../head/helpers/wait.ts';
import { natsOptions } from '../../shared/nats-connect.ts';
import { jsDomain } from '../../shared/js-domain.ts';

t.test(
  'every server of the shipped cluster restarts after jobs sealed their stores; a new job succeeds',
  { timeout: 600_000 },
  async (t) => {
    const cluster = await startShippedCluster();
    t.teardown(() => cluster.stop());
    // the shipped configs speak TLS on every listener: this process and the agents it starts trust the lab's CA
    const before = process.env.FLOTILLA_NATS_CA;
    process.env.FLOTILLA_NATS_CA = cluster.ca;
    t.teardown(() => {
      if (before === undefined) delete process.env.FLOTILLA_NATS_CA;
      else process.env.FLOTILLA_NATS_CA = before;
    });
    const natsUrl = cluster.urls.join(',');
    const c = { natsUrl, auth: cluster.auth, prefix: uniquePrefix('rs') };
    const head = await until(
      'a head on the new cluster (JetStream meta leader elected)',
      () => startHead({ ...c, ...cluster.auth.headOptions, port: 0, deadAfterMs: 3000, restartBackoffMs: 200 }).catch(() => null),
      60_000,
    );
    t.teardown(() => head.stop());
    await Promise.all([startAgentProc(t, c, 'a', 1), startAgentProc(t, c, 'b', 1)]);
    const api = new HeadClient(head.url);
    const finished = (id: string) =>
      until(
        `job ${id} ended`,
        async () => {
          const j = await api.get(id).catch(() => undefined);
          return j && ['succeeded', 'failed', 'cancelled'].includes(j.state) && j;
        },
        180_000,
      );
    const spec = { workers: 2, max_restarts: 3, checkpoint_every: 5, trainer: { kind: 'logreg' as const, steps: 12, step_delay_ms: 20 } };
    for (let i = 0; i < 2; i++) {
      const done = await finished((await api.submit(spec)).id);
      t.equal(done.state, 'succeeded', `job ${i + 1} succeeded before the restarts (${done.message ?? ''})`);
    }

    const jnc = await connect(natsOptions(cluster.urls, cluster.auth.headCreds, { maxReconnectAttempts: -1 }));
    t.teardown(() => jnc.close());
    const domain = jsDomain();
    const jsm = await jetstreamManager(jnc, { timeout: 5000, ...(domain ? { domain } : {}) });
    const sealed: string[] = [];
    await until(
      "the ended jobs' object stores sealed",
      async () => {
        sealed.length = 0;
        for await (const s of jsm.streams.list()) if (s.config.name.startsWith('OBJ_') && s.config.sealed) sealed.push(s.config.name);
        return sealed.length >= 2 || undefined;
      },
      60_000,
    );
    t.ok(sealed.length >= 2, `sealed object stores in the cluster: ${sealed.join(', ')}`);

    for (const [name, srv] of cluster.servers) {
      await caughtUp(jsm, 3, undefined, 120_000);
      const k0 = Date.now();
      await srv.kill();
      await new Promise((r) => setTimeout(r, 1000));
      await srv.restart();
      // back means: running, and every stream (the sealed ones too) has its three replicas current again
      await caughtUp(jsm, 3, undefined, 120_000);
      t.ok(
        srv.proc.exitCode === null && srv.proc.signalCode === null,
        `${name} restarted and rejoined (${Date.now() - k0} ms from SIGKILL to every replica current)`,
      );
    }

    const after = await finished((await api.submit(spec)).id);
    t.equal(after.state, 'succeeded', `a new job succeeded after every server restarted (${after.message ?? ''})`);
    await caughtUp(jsm, 3, undefined, 60_000);
    t.ok(
      [...cluster.servers.values()].every((s) => s.proc.exitCode === null && s.proc.signalCode === null),
      'the cluster is at three servers, every stream at three current replicas',
    );
  },
);
