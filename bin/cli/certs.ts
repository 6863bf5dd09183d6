/**
 * `flotilla certs --out DIR [--host H]...`: the TLS files of the shipped NATS cluster configs:
 * a private CA (`ca.pem`, kept when already there) and one server certificate naming every
 * server host (`server-cert.pem`, `server-key.pem`). Clients get `ca.pem` (`--nats-ca`).
 */
import { parseArgs } from 'node:util';
import { DEFAULT_CERT_HOSTS, writeNatsCerts } from '../../head/auth/nats-certs.ts';

const USAGE = `usage: flotilla certs --out DIR [--host H]...

  --out DIR   where to write ca.pem, ca-key.pem, server-cert.pem, server-key.pem
              (deploy/nats configs read /etc/flotilla/nats/tls/; an existing CA is kept)
  --host H    a host name or IP address the servers are reached by, repeatable
              (default: ${DEFAULT_CERT_HOSTS.join(', ')})`;

export async function run(argv: string[]): Promise<number> {
  let values: { out?: string; host?: string[]; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      options: { out: { type: 'string' }, host: { type: 'string', multiple: true }, help: { type: 'boolean', short: 'h' } },
    }));
  } catch (e) {
    console.error(`flotilla certs: ${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (!values.out) {
    console.error(`flotilla certs: --out is required\n\n${USAGE}`);
    return 2;
  }
  const hosts = values.host?.length ? values.host : DEFAULT_CERT_HOSTS;
  const p = writeNatsCerts(values.out, hosts);
  console.log(
    `flotilla certs: ${p.dir} (ca.pem for clients; server-cert.pem, server-key.pem for every server; ca-key.pem stays with you) for ${hosts.join(', ')}`,
  );
  return 0;
}
