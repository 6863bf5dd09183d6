/** `flotilla certs` writes a CA and a server certificate that the shipped configs load (nats-server -t) and that verifies for the hosts it names. */
import t from 'tap';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../head/helpers/procs.ts';
import { natsServerBinary } from '../kit/nats-server.ts';

t.test('flotilla certs: files, SANs, chain, and the shipped configs accept them', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'flotilla-certs-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const cli = (...args: string[]) =>
    spawnSync(process.execPath, [join(ROOT, 'bin/flotilla.mjs'), ...args], { encoding: 'utf8', cwd: ROOT });
  t.equal(cli('nats-trust', '--out', dir).status, 0, 'nats-trust writes auth.conf and the leaf account files');
  t.equal(
    cli('leaf-creds', '--trust', dir, '--node', 'w1', '--out', join(dir, 'leaf.creds')).status,
    0,
    "leaf-creds writes a leaf host's leaf.creds",
  );
  const r = cli('certs', '--out', join(dir, 'tls'), '--host', 'nats1', '--host', 'nats2', '--host', '10.1.2.3');
  t.equal(r.status, 0, `flotilla certs exits 0 ${r.stderr}`);
  const f = (n: string) => join(dir, 'tls', n);
  for (const key of ['ca-key.pem', 'server-key.pem']) t.equal(statSync(f(key)).mode & 0o777, 0o600, `${key} is 0600`);
  const text = execFileSync('openssl', ['x509', '-in', f('server-cert.pem'), '-noout', '-ext', 'subjectAltName,extendedKeyUsage'], {
    encoding: 'utf8',
  });
  t.match(text, /DNS:nats1, DNS:nats2, IP Address:10\.1\.2\.3/, 'the SANs name the hosts given');
  t.match(text, /TLS Web Server Authentication, TLS Web Client Authentication/, 'server and client use (routes are mutual TLS)');
  t.match(
    execFileSync('openssl', ['verify', '-CAfile', f('ca.pem'), f('server-cert.pem')], { encoding: 'utf8' }),
    /OK/,
    'signed by the CA',
  );
  const ca = readFileSync(f('ca.pem'), 'utf8');
  t.equal(cli('certs', '--out', join(dir, 'tls')).status, 0, 'a second run re-issues the server certificate');
  t.equal(readFileSync(f('ca.pem'), 'utf8'), ca, 'and keeps the CA');
  t.equal(cli('certs', '--out', join(dir, 'tls'), '--host', 'bad host').status, 1, 'a host name with a space is refused');
  for (const conf of ['deploy/nats/cluster/n1.conf', 'deploy/nats/leaf/host-leaf.conf']) {
    const p = join(dir, conf.replaceAll('/', '_'));
    writeFileSync(
      p,
      readFileSync(join(ROOT, conf), 'utf8')
        .replaceAll('/etc/flotilla/nats/', `${dir}/`)
        .replaceAll('/var/lib/flotilla/nats', join(dir, 'store')),
    );
    const v = spawnSync(natsServerBinary(), ['-t', '-c', p], { encoding: 'utf8' });
    t.equal(v.status, 0, `nats-server -t accepts ${conf} with these files ${v.stderr}`);
  }
});
