/**
 * TLS material for the shipped NATS cluster configs (deploy/nats/cluster/*.conf, the leaf's
 * remote): a private CA and one server certificate whose SANs name every server host, so the
 * same two files serve nats1..3 (the routes between them present it as a client certificate
 * too, hence both serverAuth and clientAuth). Made with the `openssl` command line (Debian's
 * `openssl` package; node's crypto can make keys but not certificates). ECDSA P-256, the CA for
 * 10 years, the server certificate for 825 days (the longest that clients such as browsers
 * accept; NATS clients do not check it).
 *
 * Files of a certs dir: ca.pem (give it to every client: `--nats-ca` / FLOTILLA_NATS_CA),
 * ca-key.pem (the CA's secret: keep it off the servers), server-cert.pem, server-key.pem (0600).
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FlotillaError } from '../../shared/errors.ts';

/** The hosts a server certificate names unless told otherwise: the shipped configs' hostnames and loopback. */
export const DEFAULT_CERT_HOSTS: readonly string[] = Object.freeze(['nats1', 'nats2', 'nats3', 'localhost', '127.0.0.1']);

export interface CertPaths {
  dir: string;
  ca: string;
  caKey: string;
  cert: string;
  key: string;
}

export function certPaths(dir: string): CertPaths {
  return {
    dir,
    ca: join(dir, 'ca.pem'),
    caKey: join(dir, 'ca-key.pem'),
    cert: join(dir, 'server-cert.pem'),
    key: join(dir, 'server-key.pem'),
  };
}

function openssl(args: string[], cwd: string): void {
  try {
    execFileSync('openssl', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as { code?: string; stderr?: Buffer; message: string };
    const why = err.code === 'ENOENT' ? 'openssl not found: apt-get install openssl' : err.stderr?.toString().trim() || err.message;
    throw new FlotillaError('FLO_CONFIG', `cannot make NATS TLS certificates: ${why}`, { cause: e });
  }
}

/** `DNS:nats1,IP:127.0.0.1,…` */
export function subjectAltNames(hosts: readonly string[]): string {
  const bad = hosts.filter((h) => !/^[A-Za-z0-9*.:-]+$/.test(h));
  if (bad.length) throw new FlotillaError('FLO_CONFIG', `not a host name or IP address: ${bad.join(', ')}`);
  return [...new Set(hosts)].map((h) => (isIP(h) ? `IP:${h}` : `DNS:${h}`)).join(',');
}

/**
 * Writes a CA (kept when `ca.pem` and `ca-key.pem` are already there, so certificates can be
 * re-issued for more hosts) and a server certificate for `hosts` signed by it.
 */
export function writeNatsCerts(dir: string, hosts: readonly string[] = DEFAULT_CERT_HOSTS): CertPaths {
  const p = certPaths(dir);
  const san = subjectAltNames(hosts);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  if (!existsSync(p.ca) || !existsSync(p.caKey)) {
    openssl(
      [
        'req',
        '-x509',
        ...ec,
        '-keyout',
        p.caKey,
        '-out',
        p.ca,
        '-days',
        '3650',
        '-subj',
        '/CN=flotilla NATS CA',
        '-addext',
        'basicConstraints=critical,CA:TRUE',
        '-addext',
        'keyUsage=critical,keyCertSign,cRLSign',
      ],
      dir,
    );
  }
  const work = mkdtempSync(join(tmpdir(), 'flotilla-certs-'));
  try {
    const csr = join(work, 'server.csr');
    const ext = join(work, 'ext.cnf');
    writeFileSync(
      ext,
      [
        `subjectAltName=${san}`,
        'basicConstraints=CA:FALSE',
        'keyUsage=critical,digitalSignature,keyEncipherment',
        'extendedKeyUsage=serverAuth,clientAuth',
        '',
      ].join('\n'),
    );
    openssl(['req', ...ec, '-keyout', p.key, '-out', csr, '-subj', '/CN=flotilla NATS server'], work);
    openssl(
      [
        'x509',
        '-req',
        '-in',
        csr,
        '-CA',
        p.ca,
        '-CAkey',
        p.caKey,
        '-set_serial',
        `0x${Date.now().toString(16)}`,
        '-days',
        '825',
        '-sha256',
        '-extfile',
        ext,
        '-out',
        p.cert,
      ],
      work,
    );
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  for (const f of [p.caKey, p.key]) chmodSync(f, 0o600);
  for (const f of [p.ca, p.cert]) chmodSync(f, 0o644);
  return p;
}
