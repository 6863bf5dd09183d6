/**
 * An actor's fence through a JetStream leader election (worker/actor/fence.ts): in a 3-server
 * cluster the server leading the jobs bucket goes silent (SIGSTOP: as when a partition cuts it
 * off). No server answers a read of the bucket until the other two have elected a new leader
 * (nats-server 2.10: 4-9 s), although the actor's own server is up. An actor on a healthy server
 * with a fence of lease 1 s and no election hold (electionMs 0) self-fences in that silence (the
 * restart of a healthy gang that issue 20 saw); with the default hold it does not, and reads its
 * record again once the bucket has its new leader.
 */
import t from 'tap';
import { connect } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { encode } from '../../shared/codec.ts';
import { subjects } from '../../shared/subjects.ts';
import { natsOptions } from '../../shared/nats-connect.ts';
import { startNatsCluster, uniquePrefix } from '../kit/nats-server.ts';
import { until } from '../head/helpers/wait.ts';
import { Fence, type FenceVerdict } from '../../worker/actor/fence.ts';
import { actorSpec, jobSpec } from './helpers.ts';

t.test(
  "the jobs bucket's leader goes silent: the fence holds through the election (and without the hold it would fence)",
  { timeout: 180_000 },
  async (t) => {
    const cluster = await startNatsCluster(3);
    t.teardown(async () => {
      for (const s of cluster.servers) s.proc.kill('SIGCONT');
      await cluster.stop();
    });
    const prefix = uniquePrefix('fe');
    const bucket = subjects(prefix).jobsBucket;
    const admin = await connect(cluster.options());
    t.teardown(() => admin.close());
    // a new cluster elects its JetStream meta leader first
    const kv = await until(
      'the jobs bucket made at R3',
      () => new Kvm(jetstream(admin)).create(bucket, { history: 1, replicas: 3 }).catch(() => null),
      60_000,
    );
    await kv.put('j1', encode({ id: 'j1', state: 'running', generation: 0 }));
    const jsm = await jetstreamManager(admin);
    const leader = (await jsm.streams.info(`KV_${bucket}`)).cluster?.leader ?? '';
    const li = Number(leader.replace(/^n/, ''));
    t.ok(cluster.servers[li], `the bucket's leader is ${leader}`);
    const follower = cluster.servers.find((_, i) => i !== li)!;
    // followers serve direct reads only once caught up: give them the time they take
    await new Promise((r) => setTimeout(r, 3000));
    const nc = await connect(natsOptions([follower.url], cluster.auth?.headCreds));
    t.teardown(() => nc.close());
    const spec = {
      ...actorSpec({ jobId: 'j1', actorId: 'j1-g0-r0', nodeId: 'n', job: jobSpec({ trainer: { kind: 'logreg', steps: 10 } }) }),
      leaseMs: 1000,
    };
    const verdicts: Record<string, FenceVerdict | undefined> = {};
    const fences = {
      held: new Fence({
        nc,
        prefix,
        spec,
        onFenced: (v) => {
          verdicts.held = v;
        },
      }),
      bare: new Fence({
        nc,
        prefix,
        spec,
        electionMs: 0,
        onFenced: (v) => {
          verdicts.bare = v;
        },
      }),
    };
    t.teardown(() => {
      fences.held.stop();
      fences.bare.stop();
    });
    fences.held.start();
    fences.bare.start();
    t.ok(await until('a first read', () => fences.held.record()), 'the record reads before the fault');
    const s0 = Date.now();
    cluster.servers[li].proc.kill('SIGSTOP');
    t.comment(`${leader} (the bucket's leader) stopped; the actor is on ${nc.getServer()}`);
    const back = await until('a read answered again (a new leader)', async () => (await fences.held.record()) ?? null, 60_000);
    t.comment(`reads answered again after ${Date.now() - s0} ms`);
    t.equal(back.generation, 0, 'the record reads again once the bucket has a new leader');
    t.equal(verdicts.held, undefined, 'with the election hold the fence did not fence');
    // The control case needs reads that went unanswered for longer than the lease. A direct KV
    // read can be answered by a follower while the leader is stopped (seen once: reads answered
    // again after 5 ms); then there was no silence to hold through, and the control proves nothing.
    if (Date.now() - s0 <= spec.leaseMs && verdicts.bare === undefined)
      await t.skip(
        `without the hold: not checked, reads were answered again after ${Date.now() - s0} ms, within the lease`,
        async () => {},
      );
    else
      t.equal(
        verdicts.bare?.kind,
        'lease-expired',
        `without it the fence would have stopped a healthy actor (${verdicts.bare?.message ?? 'not fenced: the election was shorter than the lease'})`,
      );
  },
);
