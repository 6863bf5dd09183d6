/**
 * The cluster survives on several "machines": network-namespace hosts (test/kit/netns.ts)
 * running the shipped 3-server JetStream cluster (nats1..3), a head on its own host, worker
 * agents on three more (every server URL, no leaf), and a leaf host running the shipped leaf
 * config with a worker that knows only nats://127.0.0.1:4222. Each fault is real (SIGKILL of a
 * nats-server, `ip link set down` for 10 s, a 10 Mbit/s tbf link, SIGTERM) and each job is a
 * logreg job whose events are audited: it succeeds, restarts and lost steps are as promised,
 * and no older generation reports after a newer one began (no second copy of the job).
 * Measured outcomes are printed as `fault: ...` comments (the README's table comes from them).
 */
import t from 'tap';
import { Lab, netnsUnavailable, type Host } from '../kit/netns.ts';
import { startLabCluster, startLeaf, hostLauncher, CLUSTER_URLS, type LabCluster } from '../kit/lab-cluster.ts';
import type { Proc } from '../head/helpers/procs.ts';
import { checkSteps, auditSteps } from '../../head/report/steps.ts';
import { until } from '../head/helpers/wait.ts';
import { HeadClient } from '../../bin/cli/client.ts';
import { storedToken } from '../../shared/credentials.ts';
import { uniquePrefix } from '../kit/nats-server.ts';
import { caughtUp } from '../kit/js-caught-up.ts';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import type { JobEvent } from '../../shared/schemas/event.ts';
import type { JobRecord } from '../../shared/schemas/job.ts';

// where namespaces cannot be made (not root, no `ip`/`tc`) the test is skipped with the reason
const why = netnsUnavailable();
t.test('multi-host faults', { timeout: 600_000, skip: why ? `multi-host tests skipped: ${why}` : false }, async (t) => {
  const lab = new Lab();
  t.teardown(() => lab.teardown());
  const prefix = uniquePrefix('mh');
  const t0 = Date.now();
  const lap = (what: string) => t.comment(`${what} at +${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const cluster: LabCluster = await startLabCluster(lab);
  t.teardown(() => cluster.stop());
  lap('cluster up');
  const headHost = lab.addHost('head', { mgmt: true });
  const workers = ['w1', 'w2', 'w3'].map((w) => lab.addHost(w));
  const leafHost = lab.addHost('leafhost');
  const leaf = await startLeaf(leafHost, cluster.auth, prefix);
  t.teardown(() => leaf.stop());
  const inHost = hostLauncher(t, cluster, prefix);
  const deadAfterMs = 3000;
  const head = inHost(
    headHost,
    ['head/main.ts'],
    {
      FLOTILLA_NATS_URL: CLUSTER_URLS,
      FLOTILLA_HEAD_HOST: '0.0.0.0',
      FLOTILLA_HEAD_PORT: '8080',
      FLOTILLA_DEAD_AFTER_MS: String(deadAfterMs),
      FLOTILLA_NATS_CREDS: cluster.auth.headCreds,
      FLOTILLA_NATS_SIGNING_KEY: cluster.auth.signingKey,
    },
    'head',
  );
  await head.line(/flotilla head listening on /);
  // the head saved its first admin token for the URL it printed (its own loopback view)
  const api = new HeadClient(`http://${headHost.mgmtIp}:8080`, storedToken('http://127.0.0.1:8080'));
  const joinTokens = new Map<string, string>();
  for (const h of [...workers, leafHost]) joinTokens.set(h.label, await cluster.auth.joinToken(prefix, h.label));
  const agent = (h: Host, nats: string, slots: number) =>
    inHost(
      h,
      ['worker/agent/main.ts'],
      {
        FLOTILLA_NATS_URL: nats,
        FLOTILLA_NODE_ID: h.label,
        FLOTILLA_SLOTS: String(slots),
        FLOTILLA_JOIN_TOKEN: joinTokens.get(h.label) ?? '',
      },
      `agent ${h.label}`,
    );
  const agents = workers.map((w) => agent(w, CLUSTER_URLS, 1));
  await Promise.all(agents.map((a) => a.line(/registered/)));
  lap('head and 3 workers up');

  const steps = 40;
  const spec = (extra: { step_delay_ms?: number; features?: number; steps?: number } = {}) => ({
    workers: 2,
    max_restarts: 5,
    checkpoint_every: 5,
    trainer: { kind: 'logreg' as const, steps, step_delay_ms: 150, ...extra },
    allreduce: { timeout_ms: 5000 },
  });
  const get = (id: string) => api.get(id).catch(() => undefined);
  const finished = (id: string) =>
    until(
      `job ${id} finished`,
      async () => {
        const j = await get(id);
        return j && ['succeeded', 'failed', 'cancelled'].includes(j.state) && j;
      },
      180_000,
    );
  /** the job running at step n or beyond, or ended (the caller's judge says which) */
  const atStep = (id: string, n: number) =>
    until(
      `job ${id} at step ${n}`,
      async () => {
        const j = await get(id);
        return j && ((j.state === 'running' && j.step >= n) || ['succeeded', 'failed', 'cancelled'].includes(j.state)) && j;
      },
      90_000,
    );
  const tail = (p: Proc, n = 3000) => p.output().slice(-n);
  const events = async (id: string): Promise<JobEvent[]> => {
    const out: JobEvent[] = [];
    for await (const e of api.events(id, { follow: false })) out.push(e.event);
    return out;
  };
  // MULTI_HOST_ONLY=<regex> runs only the scenarios whose name matches (the others are skipped, saying so)
  const only = process.env.MULTI_HOST_ONLY;
  const pick = (name: string) => (!only || new RegExp(only, 'i').test(name) ? {} : { skip: `MULTI_HOST_ONLY=${only} leaves it out` });
  /** Asserts the promised outcome and prints what it cost. */
  const judge = async (fault: string, j: JobRecord, promise: { maxRestarts: number; maxLostPerRestart: number }) => {
    t.equal(j.state, 'succeeded', `${fault}: job succeeded (${j.message ?? ''})`);
    if (j.state !== 'succeeded') t.comment(`head output:\n${tail(head)}\n${agents.map((a) => tail(a, 2000)).join('\n---\n')}`);
    const ev = await events(j.id);
    const report = checkSteps(ev, j.spec.trainer.kind === 'logreg' ? j.spec.trainer.steps : steps);
    const audit = auditSteps(ev);
    t.ok(report.ok, `${fault}: step sequence ${report.problems.join('; ') || 'contiguous, each generation resumed at checkpoint + 1'}`);
    t.ok(j.restarts <= promise.maxRestarts, `${fault}: restarts ${j.restarts} <= ${promise.maxRestarts}`);
    // why each restart happened (also within the promise: the measured table names the causes)
    if (j.restarts > 0) {
      const why = ev.filter((e) => e.type === 'state').map((e) => `${e.state}: ${'message' in e ? e.message : ''}`);
      t.comment(`state changes:\n${why.join('\n')}${j.restarts > promise.maxRestarts ? `\nhead output:\n${tail(head)}` : ''}`);
      const warn = agents.flatMap((a) => a.output().split('\n')).filter((l) => l.includes(j.id) && /"level":(40|50)/.test(l));
      t.comment(
        `the job's actor warnings and errors:\n${warn
          .slice(0, 30)
          .map((l) => l.replace(/"stack":"[^"]*"/, '').slice(0, 400))
          .join('\n')}`,
      );
    }
    t.ok(
      audit.lostPerChange.every((l) => l <= promise.maxLostPerRestart),
      `${fault}: steps lost per generation change ${JSON.stringify(audit.lostPerChange)} <= ${promise.maxLostPerRestart}`,
    );
    t.equal(audit.staleAfterNewer, 0, `${fault}: no older generation reported after a newer one began`);
    const secs = audit.gapMsPerChange.map((g) => (g / 1000).toFixed(1));
    t.comment(
      `fault: ${fault} | restarts ${j.restarts} | generations ${report.generations.length} | steps lost ${audit.lostPerChange.reduce((a, b) => a + b, 0)} ${JSON.stringify(audit.lostPerChange)} | training gap s ${JSON.stringify(secs)}`,
    );
  };

  await t.test('SIGKILL of each nats-server in turn mid-job', pick('SIGKILL of each nats-server in turn mid-job'), async (t) => {
    // the test's own view of JetStream, to take one server down at a time (as a rolling restart
    // does): the next kill waits until every stream has its three replicas current again
    const servers = [...cluster.servers.values()];
    const jnc = await connect({ ...servers[0].options(), servers: servers.map((x) => x.url), tls: { caFile: cluster.ca } });
    t.teardown(() => jnc.close());
    const jsm = await jetstreamManager(jnc, { timeout: 5000 });
    // long enough for three kills, each after every stream has caught up again (slow on a loaded
    // machine): a job that ends before the third kill leaves that server unkilled
    const killSteps = 160;
    const job = await api.submit(spec({ steps: killSteps }));
    const order = ['nats1', 'nats2', 'nats3'];
    let at = 4;
    let killed = 0;
    for (const victim of order) {
      await caughtUp(jsm, 3);
      await atStep(job.id, at);
      const k0 = Date.now();
      await cluster.servers.get(victim)!.kill();
      killed++;
      lap(`SIGKILL ${victim}`);
      await new Promise((r) => setTimeout(r, 2000));
      await cluster.servers.get(victim)!.restart();
      t.comment(`${victim} back after ${Date.now() - k0} ms`);
      at = Math.min(killSteps - 2, ((await get(job.id))?.step ?? at) + 4);
      const j = await get(job.id);
      if (!j || ['succeeded', 'failed', 'cancelled'].includes(j.state)) break; // recovering: the next kill waits for the step
    }
    t.equal(killed, order.length, `all ${order.length} servers were killed in turn`);
    const done = await finished(job.id);
    lap('finished');
    // a killed server's clients move and the collective redoes the step in flight in a new epoch
    // (no restart); but rank 0 writes a step report each step and a checkpoint every 5 to
    // JetStream, and a killed server that led the events or checkpoint stream stalls those writes
    // for the leader election (4-9 s), past this job's 5 s allreduce timeout: the waiting rank
    // times out and the gang restarts (at most one restart per kill; docs/recovery.md)
    await judge('SIGKILL of each nats-server in turn', done, { maxRestarts: 3, maxLostPerRestart: 5 });
  });

  await t.test('10 s partition of a worker host', pick('10 s partition of a worker host'), async (t) => {
    const job = await api.submit(spec());
    const mid = await atStep(job.id, 7);
    const victim = mid.placement[0].nodeId;
    const p0 = Date.now();
    lab.partition(victim);
    lap(`partitioned ${victim}`);
    const rec = await until('the head restarts the gang', async () => {
      const j = await get(job.id);
      return j && j.generation >= 1 && j;
    });
    t.comment(`detected after ${Date.now() - p0} ms`);
    await new Promise((r) => setTimeout(r, Math.max(0, 10_000 - (Date.now() - p0))));
    lab.heal(victim);
    lap(`healed ${victim}`);
    t.ok(rec.generation >= 1);
    const done = await finished(job.id);
    await judge('10 s partition of a worker host', done, { maxRestarts: 1, maxLostPerRestart: 5 });
    await until(`${victim} back in the pool`, async () => (await api.workers()).some((w) => w.nodeId === victim));
  });

  await t.test('10 s partition of the head host', pick('10 s partition of the head host'), async (t) => {
    const job = await api.submit(spec({ step_delay_ms: 400 }));
    await atStep(job.id, 3);
    lab.partition('head');
    const h0 = Date.now();
    lap('partitioned head');
    const sick = await until(
      'healthz 503',
      async () => {
        const r = await fetch(`http://${headHost.mgmtIp}:8080/healthz`).catch(() => undefined);
        return r && r.status === 503 && (r.json() as Promise<{ reason?: string }>);
      },
      20_000,
    );
    t.comment(`healthz 503 after ${Date.now() - h0} ms: ${JSON.stringify(sick)}`);
    const post = await fetch(`http://${headHost.mgmtIp}:8080/v1/jobs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${storedToken('http://127.0.0.1:8080')}` },
      body: JSON.stringify(spec()),
    });
    t.equal(post.status, 503, 'a submit while cut off is refused with 503');
    const stale = await fetch(`http://${headHost.mgmtIp}:8080/v1/jobs/${job.id}`, {
      headers: { authorization: `Bearer ${storedToken('http://127.0.0.1:8080')}` },
    }).then((r) => r.json() as Promise<{ stale_ms: number }>);
    t.ok(stale.stale_ms > 0, `reads say they are stale (${stale.stale_ms} ms)`);
    await new Promise((r) => setTimeout(r, 10_000));
    lab.heal('head');
    lap('healed head');
    await until(
      'healthz 200',
      async () => (await fetch(`http://${headHost.mgmtIp}:8080/healthz`).catch(() => undefined))?.status === 200,
      30_000,
    );
    const done = await finished(job.id);
    // the gang trained on through the head's partition: nothing to restart
    await judge('10 s partition of the head host', done, { maxRestarts: 0, maxLostPerRestart: 0 });
  });

  await t.test('10 Mbit/s worker links under bulk traffic', pick('10 Mbit/s worker links under bulk traffic'), async (t) => {
    for (const w of workers) lab.limit(w.label, 10);
    t.teardown(() => {
      for (const w of workers) lab.unlimit(w.label);
    });
    // bulk traffic on the same links: a 1 MB message every 200 ms from each worker host (40 Mbit/s offered, 4x the link)
    const noise = workers.map((w) =>
      inHost(
        w,
        [
          '--input-type=module',
          '-e',
          `
      const { connect, credsAuthenticator } = await import('@nats-io/transport-node');
      const nc = await connect({ servers: process.env.FLOTILLA_NATS_URL.split(','), authenticator: credsAuthenticator(new TextEncoder().encode(process.env.NOISE_CREDS)), tls: { caFile: process.env.FLOTILLA_NATS_CA } });
      const buf = new Uint8Array(1 << 20);
      setInterval(() => nc.publish('noise.${w.label}', buf), 200);`,
        ],
        { FLOTILLA_NATS_URL: CLUSTER_URLS, NOISE_CREDS: cluster.auth.headCreds },
        `noise ${w.label}`,
      ),
    );
    const sink = inHost(
      headHost,
      [
        '--input-type=module',
        '-e',
        `
      const { connect, credsAuthenticator } = await import('@nats-io/transport-node');
      const nc = await connect({ servers: process.env.FLOTILLA_NATS_URL.split(','), authenticator: credsAuthenticator(new TextEncoder().encode(process.env.NOISE_CREDS)), tls: { caFile: process.env.FLOTILLA_NATS_CA } });
      let n = 0; nc.subscribe('noise.>', { callback: () => { n++; } });
      setInterval(() => console.log('noise msgs', n), 2000);`,
      ],
      { FLOTILLA_NATS_URL: CLUSTER_URLS, NOISE_CREDS: cluster.auth.headCreds },
      'noise sink',
    );
    await sink.line(/noise msgs [1-9]/);
    const job = await api.submit(spec({ features: 4096, steps: 20 }));
    const done = await finished(job.id);
    for (const p of [...noise, sink]) await p.kill();
    await judge('10 Mbit/s links saturated by bulk traffic', done, { maxRestarts: 0, maxLostPerRestart: 0 });
    const ws = await api.workers();
    t.equal(ws.length, 3, 'no live node was declared dead');
  });

  await t.test(
    'a worker on a leaf host (--nats nats://127.0.0.1:4222 only)',
    pick('a worker on a leaf host (--nats nats://127.0.0.1:4222 only)'),
    async (t) => {
      const la = agent(leafHost, 'nats://127.0.0.1:4222', 2);
      await la.line(/registered/);
      const job = await api.submit(spec({ steps: 20 }));
      const running = await atStep(job.id, 2);
      t.ok(
        running.placement.length === 2 && running.placement.every((p) => p.nodeId === 'leafhost'),
        `both ranks ran on the leaf host (${running.placement.map((p) => p.nodeId).join(',')})`,
      );
      const done = await finished(job.id);
      await judge('worker behind a leaf server', done, { maxRestarts: 0, maxLostPerRestart: 0 });

      await t.test('SIGTERM drain of the leaf worker mid-job', async (t) => {
        const job2 = await api.submit(spec());
        const mid = await atStep(job2.id, 6);
        t.ok(
          mid.placement.some((p) => p.nodeId === 'leafhost'),
          'a rank on the leaf host',
        );
        la.proc.kill('SIGTERM');
        lap('SIGTERM leafhost');
        const exit = await la.exited;
        t.comment(`leaf agent exited (${exit.code ?? exit.signal})`);
        const done2 = await finished(job2.id);
        await judge('SIGTERM drain of a worker', done2, { maxRestarts: 0, maxLostPerRestart: 0 });
      });
    },
  );
});
