/**
 * `flotilla certs --out DIR [--host H]...`: the TLS files of the shipped NATS cluster configs:
 * a private CA (`ca.pem`, kept when already there) and one server certificate naming every
 * server host (`server-cert.pem`, `server-key.pem`). Clients get `ca.pem` (`--nats-ca`).
 */
import { z } from 'zod';
import { DEFAULT_CERT_HOSTS, writeNatsCerts } from '../../head/auth/nats-certs.ts';
import { defineCommand, flag, parse } from './parse.ts';

export const spec = defineCommand({
  name: 'certs',
  synopsis: '--out DIR [--host H]...',
  flags: z.object({
    out: z.string().min(1).meta({
      arg: 'DIR',
      description:
        'where to write ca.pem, ca-key.pem, server-cert.pem, server-key.pem\n(deploy/nats configs read /etc/flotilla/nats/tls/; an existing CA is kept)',
    }),
    host: flag.list('H', `a host name or IP address the servers are reached by\n(default: ${DEFAULT_CERT_HOSTS.join(', ')})`),
  }),
});

export async function run(argv: string[]): Promise<number> {
  const p = parse(spec, argv);
  if (!p.ok) return p.exit;
  const values = p.flags;
  const hosts = values.host?.length ? values.host : DEFAULT_CERT_HOSTS;
  const paths = writeNatsCerts(values.out, hosts);
  console.log(
    `flotilla certs: ${paths.dir} (ca.pem for clients; server-cert.pem, server-key.pem for every server; ca-key.pem stays with you) for ${hosts.join(', ')}`,
  );
  return 0;
}
