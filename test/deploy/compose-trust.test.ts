/**
 * The Compose file's security, run rather than read: its one-shot `trust` script (the exact text
 * of compose.yaml, with the volume paths mapped into a temporary dir and the container's user
 * change left out) makes the trust chain and certificates and hands each service its part; a
 * nats-server started from deploy/docker/nats/nats.conf with the `nats-trust` hand-out (ports
 * moved off 4222/6222/8222 so tests can run side by side) refuses anonymous and plain-TCP
 * clients and accepts the head's creds over TLS with the CA the workers get; and no service but
 * `trust` mounts the volume that holds the CA's key.
 */
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { connect } from '@nats-io/transport-node';
import { credsAuthenticator } from '@nats-io/transport-node';
import { ROOT } from '../head/helpers/procs.ts';
import { freePort, natsServerBinary } from '../kit/nats-server.ts';

type Service = { volumes?: string[]; environment?: Record<string, string>; command?: string[]; user?: string };
const compose = parse(readFileSync(join(ROOT, 'deploy/docker/compose.yaml'), 'utf8'), { merge: true }) as {
  services: Record<string, Service>;
};

const tcpOpen = (port: number) =>
  new Promise<boolean>((r) => {
    const s = tcpConnect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      r(true);
    });
    s.once('error', () => {
      s.destroy();
      r(false);
    });
  });

t.test('compose: the trust script, the servers it configures, and who mounts what', async (t) => {
  const vols = (name: string) => (compose.services[name].volumes ?? []).map((v) => v.split(':'));
  const trust = compose.services.trust;
  t.ok(trust, 'a one-shot trust service');
  const script = trust.command?.[0] ?? '';
  const dir = mkdtempSync(join(tmpdir(), 'flotilla-compose-'));
  let mapped = script
    .replaceAll('node /app/bin/flotilla.mjs', `${process.execPath} ${join(ROOT, 'bin/flotilla.mjs')}`)
    .replaceAll(' -o flotilla -g flotilla', '')
    .replace(/&& chown flotilla:flotilla \/join /, '');
  for (const [vol, at] of vols('trust'))
    mapped = mapped
      .replaceAll(`${at}/`, `${dir}/${vol}/`)
      .replaceAll(`${at} `, `${dir}/${vol} `)
      .replaceAll(new RegExp(`${at}$`, 'gm'), `${dir}/${vol}`);
  const run = spawnSync('/bin/sh', ['-ec', mapped], { encoding: 'utf8', cwd: ROOT });
  t.equal(run.status, 0, `the trust script runs: ${run.stderr.slice(-800)}`);
  const again = spawnSync('/bin/sh', ['-ec', mapped], { encoding: 'utf8', cwd: ROOT });
  t.equal(again.status, 0, 'and runs again on a restart');
  const headCreds = readFileSync(join(dir, 'head-trust/head.creds'), 'utf8');
  t.equal(
    readFileSync(join(dir, 'nats-trust/auth.conf'), 'utf8'),
    readFileSync(join(dir, 'pki/trust/auth.conf'), 'utf8'),
    'a rerun keeps the trust chain',
  );
  t.equal(statSync(join(dir, 'head-trust/signing.nk')).mode & 0o777, 0o600, 'the signing key is private');
  t.notOk(
    existsSync(join(dir, 'nats-trust/tls/ca-key.pem')) ||
      existsSync(join(dir, 'ca/ca-key.pem')) ||
      existsSync(join(dir, 'head-trust/ca-key.pem')),
    'the CA key is handed to nobody',
  );
  for (const [name, svc] of Object.entries(compose.services)) {
    if (name === 'trust') continue;
    t.notOk(
      vols(name).some(([v]) => v === 'pki'),
      `${name} does not mount the pki volume (CA key, every secret)`,
    );
    if (name === 'worker')
      t.notOk(
        vols(name).some(([v]) => v === 'head-trust' || v === 'nats-trust'),
        "workers get neither the head's secrets nor the servers'",
      );
    t.notOk(svc.environment?.FLOTILLA_INSECURE, `${name}: not insecure`);
  }
  const head = compose.services.head.environment ?? {};
  const worker = compose.services.worker.environment ?? {};
  const inside = (svc: string, path: string) => {
    const m = vols(svc).find(([, at]) => path.startsWith(`${at}/`));
    return m ? join(dir, m[0], path.slice(m[1].length + 1)) : undefined;
  };
  for (const k of ['FLOTILLA_NATS_CREDS', 'FLOTILLA_NATS_SIGNING_KEY', 'FLOTILLA_NATS_REVOKER', 'FLOTILLA_NATS_CA']) {
    const p = inside('head', head[k] ?? '');
    t.ok(p && existsSync(p), `head: ${k}=${head[k]} is a file the trust script wrote`);
  }
  t.ok(
    inside('worker', worker.FLOTILLA_NATS_CA ?? '') && existsSync(inside('worker', worker.FLOTILLA_NATS_CA ?? '')!),
    'workers get the CA',
  );
  t.equal(worker.FLOTILLA_JOIN_TOKEN_FILE, head.FLOTILLA_JOIN_TOKEN_FILE, 'workers read the join token file the head writes');
  t.ok(
    vols('worker').some(([v, , mode]) => v === 'join' && mode === 'ro'),
    'workers mount the join volume read-only',
  );

  // a server from the shipped nats.conf with the servers' hand-out, ports moved
  const etc = join(dir, 'etc');
  mkdirSync(etc, { recursive: true });
  const [client, route, http] = [await freePort(), await freePort(), await freePort()];
  const mount = vols('nats1').find(([, at]) => at === '/etc/nats/trust');
  t.equal(mount?.[0], 'nats-trust', 'servers mount the nats-trust hand-out at /etc/nats/trust');
  const conf = readFileSync(join(ROOT, 'deploy/docker/nats/nats.conf'), 'utf8')
    .replaceAll('/etc/nats/trust/', `${dir}/nats-trust/`)
    .replace('include "trust/auth.conf"', `include "../nats-trust/auth.conf"`)
    .replace('0.0.0.0:4222', `127.0.0.1:${client}`)
    .replace('0.0.0.0:6222', `127.0.0.1:${route}`)
    .replace('0.0.0.0:8222', `127.0.0.1:${http}`)
    .replace('/data/jetstream', join(dir, 'js'))
    .replace('/data/jwt', join(dir, 'jwt'));
  writeFileSync(join(etc, 'nats.conf'), conf);
  const srv = spawn(natsServerBinary(), ['-c', join(etc, 'nats.conf')], { env: { ...process.env, SERVER_NAME: 'nats1' }, stdio: 'ignore' });
  t.teardown(() => {
    srv.kill('SIGKILL');
  });
  const until = Date.now() + 20_000;
  while (!(await tcpOpen(client)) && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
  const url = `nats://localhost:${client}`;
  const ca = inside('worker', worker.FLOTILLA_NATS_CA ?? '')!;
  const fail = (o: object) =>
    connect({ servers: url, reconnect: false, timeout: 4000, ...o }).then(
      async (c) => {
        await c.close();
        return 'connected';
      },
      (e: Error) => e.message,
    );
  t.match(await fail({ tls: { caFile: ca } }), /Authorization Violation/i, 'an anonymous TLS client is refused');
  t.match(
    await fail({ authenticator: credsAuthenticator(new TextEncoder().encode(headCreds)) }),
    /certificate|self.signed|verify/i,
    'creds without the CA (no trust in the server) are refused',
  );
  const nc = await connect({
    servers: url,
    reconnect: false,
    timeout: 8000,
    tls: { caFile: ca },
    authenticator: credsAuthenticator(new TextEncoder().encode(headCreds)),
  });
  t.ok(nc.info?.tls_required, 'the server requires TLS');
  await nc.flush();
  t.pass("the head's creds and the workers' CA connect");
  await nc.close();
});
