/** Client TLS from FLOTILLA_NATS_CA / tls:// URLs (shared/nats-connect.ts): trusted with the CA, required once asked for (no silent downgrade to plain TCP). */
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { startNatsServer } from '../kit/nats-server.ts';
import { natsOptions, natsTls } from '../../shared/nats-connect.ts';
import { writeNatsCerts } from '../../head/auth/nats-certs.ts';

t.test('natsOptions: the CA of FLOTILLA_NATS_CA, tls:// URLs, and a plain server refused by a TLS client', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'flotilla-client-tls-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const certs = writeNatsCerts(dir, ['localhost', '127.0.0.1']);
  const tlsServer = await startNatsServer({
    jetstream: false,
    extraConfig: `tls { cert_file: "${certs.cert}", key_file: "${certs.key}", timeout: 5 }`,
  });
  t.teardown(() => tlsServer.stop());
  const plain = await startNatsServer({ jetstream: false });
  t.teardown(() => plain.stop());

  t.same(natsTls(['nats://a:4222'], {}), undefined, 'no CA, no tls:// URL: no TLS options');
  t.same(natsTls(['nats://a:4222', 'tls://b:4222'], {}), {}, 'a tls:// URL: TLS with the system CAs');
  t.same(natsTls(['nats://a:4222'], { FLOTILLA_NATS_CA: certs.ca }), { caFile: certs.ca }, 'FLOTILLA_NATS_CA: that CA');

  const before = process.env.FLOTILLA_NATS_CA;
  process.env.FLOTILLA_NATS_CA = certs.ca;
  t.teardown(() => {
    if (before === undefined) delete process.env.FLOTILLA_NATS_CA;
    else process.env.FLOTILLA_NATS_CA = before;
  });
  const nc = await connect(natsOptions(tlsServer.url, tlsServer.auth?.headCreds, { reconnect: false }));
  await nc.flush();
  t.pass('with FLOTILLA_NATS_CA the client trusts the server and connects over TLS');
  await nc.close();
  const down = await connect(natsOptions(plain.url, plain.auth?.headCreds, { reconnect: false, timeout: 5000 })).then(
    async (c) => {
      await c.close();
      return 'connected';
    },
    (e: Error) => e.message,
  );
  t.match(down, /tls/i, `a client told to use TLS refuses a server without it: ${down}`);
  delete process.env.FLOTILLA_NATS_CA;
  const sys = await connect(
    natsOptions(tlsServer.url.replace('nats://', 'tls://'), tlsServer.auth?.headCreds, { reconnect: false, timeout: 5000 }),
  ).then(
    async (c) => {
      await c.close();
      return 'connected';
    },
    (e: Error) => e.message,
  );
  t.match(sys, /certificate|verify/i, `a tls:// URL without the private CA does not trust it: ${sys}`);
});
