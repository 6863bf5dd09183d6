/**
 * The shipped 3-server cluster configs (deploy/nats/cluster/n1..n3.conf) with TLS, on
 * network-namespace hosts nats1..3 (test/kit/lab-cluster.ts, certificates as `flotilla certs`
 * makes them): a plain-TCP client is refused, a TLS client without the CA does not trust the
 * server, one with the CA but no creds is not authorized, one with both works; the route and
 * leaf listeners demand TLS too; a rogue server whose certificate is not of the cluster's CA
 * cannot join as a route (one with such a certificate can: the control); and a job runs on the
 * cluster with its actors' raw lanes authenticated and encrypted.
 */
import t from 'tap';
import { connect as tcpConnect } from 'node:net';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { Lab, netnsUnavailable } from '../kit/netns.ts';
import { startLabCluster, CLUSTER_URLS } from '../kit/lab-cluster.ts';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launch } from '../../head/embedded-nats.ts';
import { writeNatsCerts } from '../../head/auth/nats-certs.ts';
import { startProc, ourEntry } from '../head/helpers/procs.ts';
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
    const timer = setTimeout(() => {
      s.destroy();
      resolve({ info, after: buf, closed: false });
    }, 8000);
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
    s.on('close', () => {
      clearTimeout(timer);
      resolve({ info, after: buf, closed: true });
    });
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
    for (const [port, what] of [
      [6222, 'route'],
      [7422, 'leaf'],
    ] as const) {
      // these listeners either announce tls_required or wait for a TLS handshake that never comes
      const r = await plainClient(n1.ip, port);
      t.ok(
        r.info === undefined || r.info.tls_required === true,
        `the ${what} port (${port}) requires TLS (${r.info ? 'INFO says tls_required' : 'no INFO in the clear'})`,
      );
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
    await until(
      'an R3 stream on the TLS cluster',
      async () =>
        jsm.streams.add({ name, subjects: [`${name}.>`], num_replicas: 3 }).then(
          () => true,
          () => false,
        ),
      60_000,
    );
    t.equal(
      (await jsm.streams.info(name)).cluster?.replicas?.length,
      2,
      'the stream has two peer replicas besides its leader (routes over TLS)',
    );
    await jsm.streams.delete(name);
    await ok.close();
  });

  await t.test('routes are mutual TLS: a rogue server without a certificate of the CA injects nothing', async (t) => {
    const nc = await connect(natsOptions(byIp, cluster.auth.headCreds, { tls: { caFile: cluster.ca }, timeout: 8000 }));
    t.teardown(() => nc.close());
    /** A server on a new host that routes to nats1 with its own certificate and publishes in the cluster's account. */
    const rogue = async (label: string, signedByClusterCa: boolean): Promise<{ got: () => number; stop: () => Promise<void> }> => {
      const h = lab.addHost(label);
      const dir = mkdtempSync(join(tmpdir(), `flotilla-${label}-`));
      if (signedByClusterCa) for (const f of ['ca.pem', 'ca-key.pem']) copyFileSync(join(cluster.auth.dir, 'tls', f), join(dir, f));
      const own = writeNatsCerts(dir, [label, h.ip]);
      const conf = [
        `server_name: ${label}`,
        'listen: 0.0.0.0:4222',
        `accounts { ${cluster.auth.trust.accountPub}: { users: [ { user: r, password: r } ] } }`,
        `cluster { name: flotilla, listen: 0.0.0.0:6222, routes: [ nats-route://nats1:6222 ]`,
        `  tls { cert_file: "${own.cert}", key_file: "${own.key}", ca_file: "${cluster.ca}", timeout: 5 } }`,
      ].join('\n');
      const srv = await launch(conf, h.ip, 4222, dir, true, {
        prefix: ['ip', 'netns', 'exec', h.ns],
        probe: () =>
          new Promise((r) => {
            const c = tcpConnect(4222, h.ip);
            c.once('connect', () => {
              c.destroy();
              r(true);
            });
            c.once('error', () => r(false));
          }),
      });
      const subject = `rogue.${label}`;
      let n = 0;
      const sub = nc.subscribe(`${subject}.>`, {
        callback: () => {
          n++;
        },
      });
      await nc.flush();
      const inj = await connect({ servers: `nats://${h.ip}:4222`, user: 'r', pass: 'r' });
      const timer = setInterval(() => inj.publish(`${subject}.x`, new Uint8Array([1])), 100);
      return {
        got: () => n,
        async stop() {
          clearInterval(timer);
          sub.unsubscribe();
          await inj.close();
          await srv.stop();
          rmSync(dir, { recursive: true, force: true });
        },
      };
    };
    const t0 = Date.now();
    const friend = await rogue('friend', true);
    await until('messages of a server with a certificate of the cluster CA', () => friend.got() > 0, 60_000);
    const joinMs = Date.now() - t0;
    t.pass(`control: a server with a CA-signed certificate joins and its messages arrive (${joinMs} ms)`);
    await friend.stop();
    const foe = await rogue('foe', false);
    // the same wait the control needed, three times over and at least 10 s
    await new Promise((r) => setTimeout(r, Math.max(10_000, 3 * joinMs)));
    t.equal(foe.got(), 0, 'a server with a certificate of another CA is refused as a route: nothing arrives');
    await foe.stop();
  });

  await t.test('a job runs on the TLS cluster; its raw lanes authenticate over TLS', async (t) => {
    const prefix = uniquePrefix('tls');
    const headHost = lab.addHost('head', { mgmt: true });
    const w = lab.addHost('w1');
    const env = { FLOTILLA_PREFIX: prefix, FLOTILLA_NATS_URL: CLUSTER_URLS, FLOTILLA_NATS_CA: cluster.ca };
    const head = startProc(
      t,
      ourEntry('head/main.ts'),
      {
        ...env,
        FLOTILLA_HEAD_HOST: '0.0.0.0',
        FLOTILLA_HEAD_PORT: '8080',
        FLOTILLA_NATS_CREDS: cluster.auth.headCreds,
        FLOTILLA_NATS_SIGNING_KEY: cluster.auth.signingKey,
      },
      'head',
      ['ip', 'netns', 'exec', headHost.ns],
    );
    await head.line(/flotilla head listening on /);
    const api = new HeadClient(`http://${headHost.mgmtIp}:8080`, storedToken('http://127.0.0.1:8080'));
    const agent = startProc(
      t,
      ourEntry('worker/agent/main.ts'),
      {
        ...env,
        FLOTILLA_NODE_ID: 'w1',
        FLOTILLA_SLOTS: '2',
        FLOTILLA_JOIN_TOKEN: await cluster.auth.joinToken(prefix, 'w1'),
      },
      'agent w1',
      ['ip', 'netns', 'exec', w.ns],
    );
    await agent.line(/registered/);
    const job = await api.submit({ workers: 2, trainer: { kind: 'logreg', steps: 20, features: 2048 }, allreduce: { timeout_ms: 20_000 } });
    const done = await until(
      `job ${job.id} ended`,
      async () => {
        const j = await api.get(job.id).catch(() => undefined);
        return j && ['succeeded', 'failed', 'cancelled'].includes(j.state) && j;
      },
      180_000,
    );
    t.equal(done.state, 'succeeded', `the job succeeded (${done.message ?? ''})`);
    t.equal(done.step, 20, 'at its final step');
    const lanes = await agent.line(/allreduce algorithm/);
    t.match(lanes, /"lanes":"raw"/, `the actors' allreduce ran on raw lanes (creds + TLS): ${lanes.slice(0, 200)}`);
  });
});
