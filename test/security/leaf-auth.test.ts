/**
 * Per-identity authentication on a worker host's leaf server (deploy/nats/leaf/host-leaf.conf as
 * shipped, in operator mode with the cluster's auth.conf, on network-namespace hosts): the
 * worker behind the leaf joins with its own join token and its job succeeds (its actors' KV,
 * object store and stream traffic crosses the leaf in the JetStream domain, with no mapping);
 * an anonymous client on the leaf is refused; a genuine worker credential on the leaf cannot
 * speak for another node, abort, drain, publish events or write KV (the fake-node attacks of
 * nats-attacks.test.ts, now through the leaf); the leaf's own cluster user (bound to this host's
 * node: `flotilla leaf-creds`) bounds even the head's credential on that host (no KV write goes
 * up, no answer to its own inbox comes down). Through the leaf's
 * system-account remote, a revoked join token is cut off the leaf and refused there, and a
 * SIGKILLed agent behind the leaf is found dead by its closed connections (the heartbeat
 * timeout is set to 60 s, so only the disconnect advisory explains a verdict).
 */
import t from 'tap';
import { Lab, netnsUnavailable, type Host } from '../kit/netns.ts';
import { startLabCluster, startLeaf, hostLauncher, CLUSTER_URLS } from '../kit/lab-cluster.ts';
import { until } from '../head/helpers/wait.ts';
import { HeadClient } from '../../bin/cli/client.ts';
import { storedToken } from '../../shared/credentials.ts';
import { uniquePrefix } from '../kit/nats-server.ts';
import { workerPermissions } from '../../head/auth/nats-permissions.ts';
import { subjects } from '../../shared/subjects.ts';

const why = netnsUnavailable();
t.test('leaf server: per-identity auth', { timeout: 300_000, skip: why ? `leaf auth tests skipped: ${why}` : false }, async (t) => {
  const lab = new Lab();
  t.teardown(() => lab.teardown());
  const prefix = uniquePrefix('lf');
  const cluster = await startLabCluster(lab);
  t.teardown(() => cluster.stop());
  const headHost = lab.addHost('head', { mgmt: true });
  const w1 = lab.addHost('w1');
  const leafHost = lab.addHost('leafhost');
  const leaf = await startLeaf(leafHost, cluster.auth, prefix);
  t.teardown(() => leaf.stop());
  const inHost = hostLauncher(t, cluster, prefix);
  const head = inHost(
    headHost,
    ['head/main.ts'],
    {
      FLOTILLA_NATS_URL: CLUSTER_URLS,
      FLOTILLA_HEAD_HOST: '0.0.0.0',
      FLOTILLA_HEAD_PORT: '8080',
      FLOTILLA_NATS_CREDS: cluster.auth.headCreds,
      FLOTILLA_NATS_SIGNING_KEY: cluster.auth.signingKey,
      FLOTILLA_NATS_REVOKER: cluster.auth.revoker ?? '',
      FLOTILLA_DEAD_AFTER_MS: '60000',
    },
    'head',
  );
  await head.line(/flotilla head listening on /);
  const api = new HeadClient(`http://${headHost.mgmtIp}:8080`, storedToken('http://127.0.0.1:8080'));
  const agent = async (h: Host, nats: string, slots: number) =>
    inHost(
      h,
      ['worker/agent/main.ts'],
      {
        FLOTILLA_NATS_URL: nats,
        FLOTILLA_NODE_ID: h.label,
        FLOTILLA_SLOTS: String(slots),
        FLOTILLA_JOIN_TOKEN: await cluster.auth.joinToken(prefix, h.label),
      },
      `agent ${h.label}`,
    );
  // w1 dials the cluster; leafhost knows only its leaf
  const a1 = await agent(w1, CLUSTER_URLS, 1);
  const la = await agent(leafHost, 'nats://127.0.0.1:4222', 2);
  await Promise.all([a1.line(/registered/), la.line(/registered/)]);
  const finished = (id: string) =>
    until(
      `job ${id} finished`,
      async () => {
        const j = await api.get(id).catch(() => undefined);
        return j && ['succeeded', 'failed', 'cancelled'].includes(j.state) && j;
      },
      180_000,
    );

  await t.test('a 2-rank job on the leaf worker succeeds (checkpoints, events, fencing reads through the leaf)', async (t) => {
    const job = await api.submit({ workers: 2, checkpoint_every: 5, trainer: { kind: 'logreg', steps: 20, step_delay_ms: 50 } });
    const running = await until(
      'placed',
      async () => {
        const j = await api.get(job.id);
        return j.placement.length === 2 && j;
      },
      60_000,
    );
    t.ok(
      running.placement.every((p) => p.nodeId === 'leafhost'),
      `both ranks on the leaf host (${running.placement.map((p) => p.nodeId).join(',')})`,
    );
    const done = await finished(job.id);
    t.equal(done.state, 'succeeded', `succeeded (${done.message ?? ''})`);
    if (done.state !== 'succeeded') t.comment(`head:\n${head.output().slice(-3000)}\nleaf agent:\n${la.output().slice(-3000)}`);
    t.equal(done.step, 20, 'at the final step');
    t.equal(done.restarts, 0, 'without a restart');
    const why = [];
    for await (const e of api.events(job.id, { follow: false }))
      if (e.event.type === 'state' && e.event.state === 'recovering') why.push(e.event.message);
    if (why.length) t.comment(`restarts: ${why.join(' / ')}`);
    const kinds = new Map<string, number>();
    for await (const e of api.events(job.id, { follow: false })) kinds.set(e.event.type, (kinds.get(e.event.type) ?? 0) + 1);
    t.ok((kinds.get('checkpoint') ?? 0) > 0, `checkpoints stored through the leaf (${kinds.get('checkpoint') ?? 0} events)`);
    t.ok((kinds.get('metric') ?? 0) > 0, `metric events published through the leaf (${kinds.get('metric') ?? 0})`);
  });

  await t.test('anonymous, fake-node and KV attacks through the leaf are refused', async (t) => {
    // a running job for the attacks to aim at; its node is the victim
    const job = await api.submit({ workers: 1, trainer: { kind: 'logreg', steps: 100000, step_delay_ms: 50 } });
    const before = await until(
      'running',
      async () => {
        const j = await api.get(job.id);
        return j.state === 'running' && j.placement.length === 1 && j;
      },
      60_000,
    );
    const victim = before.placement[0].nodeId;
    const evilCreds = await cluster.auth.mint('worker:evil:x', workerPermissions(subjects(prefix), 'evil'));
    const probe = inHost(
      leafHost,
      ['test/security/helpers/leaf-attacks.ts'],
      {
        LEAF_URL: 'nats://127.0.0.1:4222',
        LEAF_PREFIX: prefix,
        LEAF_JOB: job.id,
        VICTIM: victim,
        EVIL_CREDS: evilCreds,
        HEAD_CREDS: cluster.auth.headCreds,
      },
      'leaf attacks',
    );
    const line = await probe.line(/^LEAF-ATTACKS /);
    const r = JSON.parse(line.slice('LEAF-ATTACKS '.length)) as Record<string, string>;
    t.comment(JSON.stringify(r));
    t.match(r.anonymous, /-ERR 'Authorization Violation'/, 'an anonymous client on the leaf is refused');
    t.notMatch(r.anonymous, /PONG/, 'and gets no PONG');
    for (const k of ['heartbeatOther', 'leavingOther', 'exitOther', 'drainOther', 'abort', 'events', 'kvWrite']) {
      t.match(r[k], /Permissions Violation/, `worker credential on the leaf, ${k}: refused by the leaf`);
    }
    t.equal(r.ownHeartbeat, 'sent', 'the same credential may speak on its own subjects (the control)');
    t.match(
      r.headKvRead,
      /^error: /,
      "the head's credential on the leaf host gets no JetStream answer: the leaf's cluster user receives only its nodes' and actors' inboxes",
    );
    t.match(r.headKvWrite, /^error: /, "and cannot write KV: the leaf's cluster user may not send KV writes");
    const after = await api.get(job.id);
    t.equal(after.state, 'running', 'the job still runs');
    t.equal(after.generation, before.generation, 'no generation bump');
    t.same(after.placement, before.placement, 'same placement');
    t.ok(
      (await api.workers()).some((w) => w.nodeId === victim && !w.draining),
      `${victim} is not draining`,
    );
    await api.cancel(job.id);
  });

  await t.test('a revoked join token is cut off the leaf and refused there', async (t) => {
    const token = await api.createToken({ role: 'worker', name: 'leafnode2' });
    const holder = inHost(leafHost, ['test/security/helpers/leaf-revoked.ts'], { LEAF_JOIN_TOKEN: token.token }, 'revoked holder');
    await holder.line(/^CONNECTED/);
    await api.revokeToken(token.id);
    const cut = await holder.line(/^CUT /);
    t.match(cut, /Revoked/i, `the leaf closed the connection (${cut})`);
    t.match(await holder.line(/^AGAIN /), /Authorization Violation/, 'and refuses the creds from then on');
  });

  await t.test('a SIGKILLed agent behind the leaf is found dead by its closed connections', async (t) => {
    const job = await api.submit({ workers: 2, max_restarts: 3, trainer: { kind: 'logreg', steps: 100000, step_delay_ms: 50 } });
    await until(
      'running on the leaf host',
      async () => {
        const j = await api.get(job.id);
        return j.state === 'running' && j.step >= 3 && j.placement.every((p) => p.nodeId === 'leafhost') && j;
      },
      90_000,
    );
    const killedAt = Date.now();
    await la.kill('SIGKILL');
    const moved = await until(
      'the next generation',
      async () => {
        const j = await api.get(job.id);
        return j.generation >= 1 && j;
      },
      30_000,
    );
    t.comment(`generation ended ${Date.now() - killedAt} ms after the SIGKILL (heartbeat backstop 60 s)`);
    t.ok(moved.generation >= 1, `the job moved on to generation ${moved.generation}`);
    const events = [];
    for await (const e of api.events(job.id, { follow: false })) events.push(e.event);
    const recovering = events.find((e) => e.type === 'state' && e.state === 'recovering');
    t.match(
      recovering,
      {
        type: 'state',
        generation: 1,
        message: /node leafhost was lost \(its (connections|\w+ connection) closed and it answered no ping\)/,
      },
      "the verdict came from the leaf's disconnect advisories, not from missed heartbeats",
    );
    await api.cancel(job.id);
  });
});
