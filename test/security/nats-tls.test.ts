/**
 * The shipped 3-server cluster configs (deploy/nats/cluster/n1..n3.conf) with TLS, on
 * network-namespace hosts nats1..3 (test/kit/lab-cluster.ts, certificates as `flotilla certs`
 * makes them): a plain-TCP client is refused, a TLS client without the CA does not trust the
 * server, one with the CA but no creds is not authorized, one with both works; the route and
 * leaf listeners demand TLS too; and a job runs on the cluster with its actors' raw lanes
 * authenticated and encrypted.
 */
import t from 'tap';
import { connect as tcpConnect } from 'node:net';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { Lab, netnsUnavailable } from '../kit/netns.ts';
import { startLabCluster, CLUSTER_URLS } from '../kit/lab-cluster.ts';
import { startProc } from '../head/helpers/procs.ts';
import { until } from '../head/helpers/wait.ts';
import { HeadClient } from '../../bin/cli/client.ts';
import { storedToken } from '../../shared/credentials.ts';
import { natsOptions } from '../../shared/nats-connect.ts';
import { uniquePrefix } from '../kit/nats-server.ts';

/** What a plain-TCP client gets: the INFO line, then what the server answers a CONNECT + PING sent in the clear. */
function plainClient(host: string, port: number): Promise<{ info?: Record<string, unknown>; after: string; closed: boolean }> {
  return new Promise((resolve) => {
    const s = tcpConnect(port, host);
    let buf = '';
    let info: Record<string, unknown> | undefined;
    const timer = setTimeout(() => { s.destroy(); resolve({ info, after: buf, closed: false }); }, 8000);
    s.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      if (!info && buf.includes('\n')) {
        const line = buf.slice(0, buf.indexOf('\n')).trim();
        info = JSON.parse(line.replace(/^INFO /, '')) as Record<string, unknown>;
        buf = buf.slice(buf.indexOf('\n') + 1);
        s.write('CONNECT {"verbose":false,"pedantic":false,"protocol":1}\r\nPING\r\n');
      }
    });
    s.on('error', () => undefined);
    s.on('close', () => { clearTimeout(timer); resolve({ info, after: buf, closed: true }); });
  });
}

const why = netnsUnavailable();
t.test('TLS on the shipped cluster configs', { timeout: 300_000, skip: why ? `NATS TLS lab test skipped: ${why}` : false }, async (t) => {
  const lab = new Lab();
  t.teardown(() => lab.teardown());
  const cluster = await startLabCluster(lab);
  t.teardown(() => cluster.stop());
  const n1 = cluster.hosts[0];
  const byIp = `nats://${n1.ip}:4222`;

  await t.test('an attacker without TLS, without the CA or without creds is refused', async (t) => {
    const p = await plainClient(n1.ip, 4222);
    t.equal(p.info?.tls_required, true, 'the client port announces tls_required');
    t.notMatch(p.after, /PONG/, 'a CONNECT + PING in the clear gets no PONG');
    t.ok(p.closed, `the server closes the connection (${JSON.stringify(p.after.trim()) || 'no answer'})`);
    for (const [port, what] of [[6222, 'route'], [7422, 'leaf']] as const) {
      // these listeners either announce tls_required or wait for a TLS handshake that never comes
      const r = await plainClient(n1.ip, port);
      t.ok(r.info === undefined || r.info.tls_required === true, `the ${what} port (${port}) requires TLS (${r.info ? 'INFO says tls_required' : 'no INFO in the clear'})`);
      t.notMatch(r.after, /PONG/, `a plain ${what} CONNECT gets no PONG`);
      t.ok(r.closed, `the ${what} port closes the plain connection`);
    }
    const noCa = await connect(natsOptions(byIp, cluster.auth.headCreds, { reconnect: false, timeout: 8000 })).catch((e: unknown) => e);
    t.match(String(noCa), /certificate|self[- ]signed|verify/i, `TLS without the CA does not trust the server: ${String(noCa)}`);
    const noCreds = await connect({ servers: byIp, tls: { caFile: cluster.ca }, reconnect: false, timeout: 8000 }).catch((e: unknown) => e);
    t.match(String(noCreds), /Authorization/i, `the CA without creds is not authorized: ${String(noCreds)}`);
    const ok = await connect(natsOptions(byIp, cluster.auth.headCreds, { tls: { caFile: cluster.ca }, reconnect: false, timeout: 8000 }));
    t.equal(ok.isClosed(), false, 'the CA and creds connect');
    // an R3 stream needs all three servers, so the mutual-TLS routes are up
    const jsm = await jetstreamManager(ok);
    const name = `tls_${uniquePrefix('s')}`;
    await until('an R3 stream on the TLS cluster', async () => jsm.streams.add({ name, subjects: [`${name}.>`], num_replicas: 3 }).then(() => true, () => false), 60_000);
    t.equal((await jsm.streams.info(name)).cluster?.replicas?.length, 2, 'the stream has two peer replicas besides its leader (routes over TLS)');
    await jsm.streams.delete(name);
    await ok.close();
  });

  await t.test('a job runs on the TLS cluster; its raw lanes authenticate over TLS', async (t) => {
    const prefix = uniquePrefix('tls');
    const headHost = lab.addHost('head', { mgmt: true });
    const w = lab.addHost('w1');
    const env = { FLOTILLA_PREFIX: prefix, FLOTILLA_NATS_URL: CLUSTER_URLS, FLOTILLA_NATS_CA: cluster.ca };
    const head = startProc(t, ['--import', 'tsx', 'head/main.ts'], {
      ...env, FLOTILLA_HEAD_HOST: '0.0.0.0', FLOTILLA_HEAD_PORT: '8080',
      FLOTILLA_NATS_CREDS: cluster.auth.headCreds, FLOTILLA_NATS_SIGNING_KEY: cluster.auth.signingKey,
    }, 'head', ['ip', 'netns', 'exec', headHost.ns]);
    await head.line(/flotilla head listening on /);
    const api = new HeadClient(`http://${headHost.mgmtIp}:8080`, storedToken('http://127.0.0.1:8080'));
    const agent = startProc(t, ['--import', 'tsx', 'worker/agent/main.ts'], {
      ...env, FLOTILLA_NODE_ID: 'w1', FLOTILLA_SLOTS: '2', FLOTILLA_JOIN_TOKEN: await cluster.auth.joinToken(prefix, 'w1'),
    }, 'agent w1', ['ip', 'netns', 'exec', w.ns]);
    await agent.line(/registered/);
    const job = await api.submit({ workers: 2, trainer: { kind: 'logreg', steps: 20, features: 2048 }, allreduce: { timeout_ms: 20_000 } });
    const done = await until(`job ${job.id} ended`, async () => {
      const j = await api.get(job.id).catch(() => undefined);
      return j && ['succeeded', 'failed', 'cancelled'].includes(j.state) && j;
    }, 180_000);
    t.equal(done.state, 'succeeded', `the job succeeded (${done.message ?? ''})`);
    t.equal(done.step, 20, 'at its final step');
    const lanes = await agent.line(/allreduce algorithm/);
    t.match(lanes, /"lanes":"raw"/, `the actors' allreduce ran on raw lanes (creds + TLS): ${lanes.slice(0, 200)}`);
  });
});
