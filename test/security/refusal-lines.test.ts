/**
 * A server's refusals reach the client's output as one clear line (shared/nats-refusals.ts):
 * `flotilla worker` with credentials of another trust dir (Authorization Violation), with a
 * TLS server's certificate it cannot verify (no --nats-ca), and a permissions violation on a
 * live connection (logged once, not per message).
 */
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { startNatsServer, uniquePrefix } from '../kit/nats-server.ts';
import { serverAuth } from '../../head/embedded-nats.ts';
import { writeNatsCerts } from '../../head/auth/nats-certs.ts';
import { natsOptions } from '../../shared/nats-connect.ts';
import { watchRefusals } from '../../shared/nats-refusals.ts';
import { cli } from '../head/helpers/procs.ts';
import { parseJoinToken } from '../../shared/join-token.ts';

t.test('refused connects and permission violations are one clear line', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'flotilla-refusals-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const certs = writeNatsCerts(join(dir, 'tls'), ['localhost', '127.0.0.1']);
  const srv = await startNatsServer({
    jetstream: false,
    extraConfig: `tls { cert_file: "${certs.cert}", key_file: "${certs.key}", timeout: 5 }`,
  });
  t.teardown(() => srv.stop());
  const prefix = uniquePrefix('rf');
  const stranger = await serverAuth(join(dir, 'other-trust'));
  const env = { FLOTILLA_PREFIX: prefix, FLOTILLA_LOG_LEVEL: 'warn' };

  const auth = await cli(['worker', '--nats', srv.url, '--nats-ca', certs.ca, '--join-token', await stranger.joinToken(prefix, 'n1')], env);
  t.not(auth.code, 0, `a worker with another cluster's token exits (${auth.code})`);
  t.match(
    auth.stderr,
    /^flotilla worker: FLO_CONFIG: NATS server .* refused worker n1: Authorization Violation .*flotilla token create --role worker/m,
    `one line: ${auth.stderr.trim()}`,
  );

  const tls = await cli(
    ['worker', '--nats', srv.url.replace('nats://', 'tls://'), '--join-token', await srv.auth!.joinToken(prefix, 'n2')],
    env,
  );
  t.not(tls.code, 0, `a worker that cannot verify the server's certificate exits (${tls.code})`);
  t.match(
    tls.stderr,
    /^flotilla worker: FLO_CONFIG: NATS server .* refused worker n2: TLS failed .*--nats-ca/m,
    `one line: ${tls.stderr.trim()}`,
  );

  const lines: string[] = [];
  const nc = await connect(
    natsOptions(srv.url, parseJoinToken(await srv.auth!.joinToken(prefix, 'n3')).creds, { tls: { caFile: certs.ca } }),
  );
  t.teardown(() => nc.close());
  watchRefusals(
    nc,
    {
      warn: (_o, msg) => {
        lines.push(msg);
      },
    },
    'worker n3',
  );
  for (let i = 0; i < 5; i++) nc.publish(`${prefix}.node.n4.register`, new Uint8Array(1));
  await nc.flush();
  await new Promise((r) => setTimeout(r, 500));
  t.equal(lines.length, 1, `five violations, one line: ${lines.join(' | ')}`);
  t.match(
    lines[0],
    /refused worker n3: Permissions Violation for Publish to ".*\.node\.n4\.register" \(its credentials do not allow that subject\)/,
  );
});
