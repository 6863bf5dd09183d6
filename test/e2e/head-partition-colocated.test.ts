/**
 * A head partition that costs nothing, with a NATS server on the head's host (issue 20): the
 * shipped 3-server cluster on namespace hosts nats1..3, the head on nats1 (beside that server),
 * two workers dialing every server URL. nats1 (head + server) is cut off the network for 10 s
 * mid-job. Clients of nats1's server (actors, agents) find it silent within ~1.5 s (PING every
 * 0.5 s, two out: shared/nats-connect.ts) and move to nats2/nats3; raw data lanes on nats1 find
 * it silent by their own PINGs and reopen elsewhere (worker/collective/raw-lane.ts); fences hold
 * through the leader election of any job stream nats1 led (worker/actor/fence.ts); the head's
 * own view is broken, so it decides nothing until it is whole again. Asserted: the job
 * succeeds with 0 restarts and 0 steps lost, step sequence contiguous, no older generation
 * after a newer one, no actor self-fenced. The job's allreduce timeout is 15 s: a step may wait
 * on rank 0's checkpoint write through the checkpoint stream's leader election (4-9 s), which a
 * 5 s timeout does not cover (docs/recovery.md, "A partition of the head's host"). Printed:
 * which server each rank and each job stream's leader was on, and what moved.
 */
import t from 'tap';
import { Lab, netnsUnavailable } from '../kit/netns.ts';
import { startLabCluster, hostLauncher, CLUSTER_URLS } from '../kit/lab-cluster.ts';
import { checkSteps, auditSteps } from '../../head/report/steps.ts';
import { until } from '../head/helpers/wait.ts';
import { HeadClient } from '../../bin/cli/client.ts';
import { storedToken } from '../../shared/credentials.ts';
import { uniquePrefix } from '../kit/nats-server.ts';
import { subjects } from '../../shared/subjects.ts';
import type { JobEvent } from '../../shared/schemas/event.ts';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';

const why = netnsUnavailable();
t.test(
  '10 s partition of the head host that also runs a NATS server',
  { timeout: 600_000, skip: why ? `multi-host tests skipped: ${why}` : false },
  async (t) => {
    const lab = new Lab();
    t.teardown(() => lab.teardown());
    const prefix = uniquePrefix('hp');
    const cluster = await startLabCluster(lab, undefined, { mgmt: ['nats1'] });
    t.teardown(() => cluster.stop());
    const headHost = lab.host('nats1');
    const workers = ['w1', 'w2'].map((w) => lab.addHost(w));
    const inHost = hostLauncher(t, cluster, prefix);
    const head = inHost(
      headHost,
      ['head/main.ts'],
      {
        FLOTILLA_NATS_URL: CLUSTER_URLS,
        FLOTILLA_HEAD_HOST: '0.0.0.0',
        FLOTILLA_HEAD_PORT: '8080',
        FLOTILLA_DEAD_AFTER_MS: '3000',
        FLOTILLA_NATS_CREDS: cluster.auth.headCreds,
        FLOTILLA_NATS_SIGNING_KEY: cluster.auth.signingKey,
      },
      'head',
    );
    await head.line(/flotilla head listening on /);
    const api = new HeadClient(`http://${headHost.mgmtIp}:8080`, storedToken('http://127.0.0.1:8080'));
    const agents = await Promise.all(
      workers.map(async (h) =>
        inHost(
          h,
          ['worker/agent/main.ts'],
          {
            FLOTILLA_NATS_URL: CLUSTER_URLS,
            FLOTILLA_NODE_ID: h.label,
            FLOTILLA_SLOTS: '1',
            FLOTILLA_JOIN_TOKEN: await cluster.auth.joinToken(prefix, h.label),
          },
          `agent ${h.label}`,
        ),
      ),
    );
    await Promise.all(agents.map((a) => a.line(/registered/)));
    const steps = 40;
    const job = await api.submit({
      workers: 2,
      max_restarts: 5,
      checkpoint_every: 5,
      trainer: { kind: 'logreg', steps, step_delay_ms: 400 },
      allreduce: { timeout_ms: 15_000 },
    });
    await until(
      'step 3',
      async () => {
        const j = await api.get(job.id).catch(() => undefined);
        return j && j.state === 'running' && j.step >= 3 && j;
      },
      120_000,
    );
    // what the cut will hit (which server each rank dialled is nats.js's random pick): printed
    for (const l of agents.flatMap((a) => a.output().split('\n')).filter((x) => x.includes('"msg":"connected to NATS"'))) {
      const m = /"actor":"([^"]+)".*"server":"([^"]+)"/.exec(l);
      if (m) t.comment(`${m[1]} is on ${m[2]}`);
    }
    const servers = [...cluster.servers.values()];
    const jnc = await connect({ ...servers[0].options(), servers: servers.map((x) => x.url), tls: { caFile: cluster.ca } });
    const jsm = await jetstreamManager(jnc, { timeout: 5000 });
    // the jobs bucket (every fence reads it) and the events stream (rank 0 reports each step there)
    // are moved to nats1's server when they are not there (leader step-downs, a few tries), so the
    // cut makes both elect a new leader in every run
    const names: string[] = [];
    for await (const si of jsm.streams.list()) {
      const n = si.config.name;
      if (n.toLowerCase().includes(prefix.toLowerCase()) || n.includes(job.id)) names.push(n);
    }
    for (const name of names.filter((n) => n === `KV_${subjects(prefix).jobsBucket}` || /_EVENTS$/i.test(n))) {
      for (let i = 0; i < 8; i++) {
        const before = (await jsm.streams.info(name)).cluster?.leader;
        if (before === 'flotilla-n1') break;
        await jnc.request(`$JS.API.STREAM.LEADER.STEPDOWN.${name}`, undefined, { timeout: 5000 }).catch(() => undefined);
        await until(
          `${name} has a new leader`,
          async () => {
            const l = (await jsm.streams.info(name).catch(() => undefined))?.cluster?.leader;
            return l && l !== before;
          },
          20_000,
        ).catch(() => undefined);
      }
    }
    for (const name of names) t.comment(`stream ${name}: leader ${(await jsm.streams.info(name)).cluster?.leader ?? '?'}`);
    await jnc.close();
    lab.partition('nats1');
    const p0 = Date.now();
    t.comment(`nats1 cut off at ${new Date(p0).toISOString()}`);
    await new Promise((r) => setTimeout(r, 10_000));
    lab.heal('nats1');
    t.comment(`nats1 (head + server) cut off for ${Date.now() - p0} ms`);
    const done = await until(
      'job ended',
      async () => {
        const j = await api.get(job.id).catch(() => undefined);
        return j && ['succeeded', 'failed', 'cancelled'].includes(j.state) && j;
      },
      240_000,
    );
    t.equal(done.state, 'succeeded', `job succeeded (${done.message ?? ''})`);
    const ev: JobEvent[] = [];
    for await (const e of api.events(job.id, { follow: false })) ev.push(e.event);
    const report = checkSteps(ev, steps);
    const audit = auditSteps(ev);
    t.ok(report.ok, `step sequence ${report.problems.join('; ') || 'contiguous'}`);
    t.equal(audit.staleAfterNewer, 0, 'no older generation reported after a newer one began');
    const fenced = agents.flatMap((a) => a.output().split('\n')).filter((l) => /self-fenced/.test(l));
    t.comment(
      `fault: head partition, head host runs nats1 | restarts ${done.restarts} | generations ${report.generations.length} | steps lost ${audit.lostPerChange.reduce((a, b) => a + b, 0)} ${JSON.stringify(audit.lostPerChange)} | self-fenced actors ${fenced.length}`,
    );
    for (const l of fenced) t.comment(l.slice(0, 300));
    // what the cut did to the ranks: main connections that moved, data lanes reopened elsewhere
    const moved = agents
      .flatMap((a) => a.output().split('\n'))
      .filter((l) => /"msg":"(NATS (dis|re)connected|collective: a data connection was lost[^"]*)"/.test(l));
    for (const l of moved) {
      const m = /"actor":"([^"]+)".*?("server":"[^"]*"|"reason":"[^"]{0,160}).*"msg":"([^"]+)"/.exec(l);
      t.comment(m ? `${m[1]}: ${m[3]} (${m[2]})` : l.slice(0, 300));
    }
    // why each restart happened (the head's state events, and warnings/errors the ranks reported)
    for (const e of ev) {
      if (e.type === 'state' && e.message) t.comment(`state ${e.state}: ${e.message.slice(0, 300)}`);
      if (e.type === 'log' && (e.level === 'warn' || e.level === 'error'))
        t.comment(`rank ${e.rank ?? '-'} ${e.level}: ${e.msg.slice(0, 300)}`);
    }
    t.equal(
      fenced.length,
      0,
      "no actor self-fenced: each was on another server before its lease ran out, and each held its lease through the jobs stream's leader election",
    );
    // the promise (docs/recovery.md): a gang that trains on through the head's partition is not restarted
    t.equal(done.restarts, 0, 'restarts 0');
    t.equal(
      audit.lostPerChange.reduce((a, b) => a + b, 0),
      0,
      'steps lost 0',
    );
    if (done.restarts > 0) {
      const warn = agents.flatMap((a) => a.output().split('\n')).filter((l) => /"level":(40|50)/.test(l));
      for (const l of warn.slice(0, 30)) t.comment(l.slice(0, 400));
    }
  },
);
