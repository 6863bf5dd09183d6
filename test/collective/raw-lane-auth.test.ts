/**
 * Raw lanes on servers that require credentials (decentralized JWT: a nonce in INFO) and TLS:
 * each rank's lanes sign the nonce with its own actor creds, the group reports raw lanes and
 * the sums are exact; lanes without creds, with forged creds, with another job's creds, or
 * without the CA are refused by the real server (or fall back to nats.js lanes).
 */
import t, { type Test } from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { startNatsServer, uniquePrefix, type NatsServer } from '../kit/nats-server.ts';
import { expectedSum, firstMismatch, input } from './kit.ts';
import { connectRawLane, createGroup, RawLaneUnsupported, type RawLaneSecurity } from '../../worker/collective/index.ts';
import type { Lane } from '../../worker/collective/lane.ts';
import { subjects } from '../../shared/subjects.ts';
import { natsOptions } from '../../shared/nats-connect.ts';
import { actorPermissions } from '../../head/auth/nats-permissions.ts';
import { createTrust, mintCreds } from '../../head/auth/nats-trust.ts';
import { writeNatsCerts } from '../../head/auth/nats-certs.ts';

const certDir = mkdtempSync(join(tmpdir(), 'flotilla-lane-certs-'));
t.teardown(() => rmSync(certDir, { recursive: true, force: true }));
const certs = writeNatsCerts(certDir, ['localhost', '127.0.0.1']);
const plain = await startNatsServer({ jetstream: false });
t.teardown(() => plain.stop());
const tlsServer = await startNatsServer({
  jetstream: false,
  extraConfig: `tls { cert_file: "${certs.cert}", key_file: "${certs.key}", timeout: 5 }`,
});
t.teardown(() => tlsServer.stop());

const host = (s: NatsServer) => new URL(s.url).host;

/** Two ranks of job `j`, each connected and laned with its own actor creds. */
/** A lane wrapper like the actor's fault shaper: it must not change the reported lane kind. */
const passThrough = (l: Lane): Lane => ({
  get maxPayload() {
    return l.maxPayload;
  },
  publish: (s, p, b) => l.publish(s, p, b),
  settle: () => l.settle(),
  subscribe: (s, h, st) => l.subscribe(s, h, st),
  flush: () => l.flush(),
  close: () => l.close(),
});

async function ranksWithCreds(server: NatsServer, tls?: RawLaneSecurity['tls'], wrapLane?: (l: Lane) => Lane) {
  const prefix = uniquePrefix('ra');
  const s = subjects(prefix);
  const creds = await Promise.all([0, 1].map((r) => server.auth!.mint(`actor:a${r}`, actorPermissions(s, 'j', `a${r}`))));
  const extra = tls ? { tls: { caFile: tls.ca } } : {};
  const conns: NatsConnection[] = await Promise.all(creds.map((c) => connect(natsOptions(server.url, c, extra))));
  const groups = await Promise.all(
    conns.map((nc, rank) =>
      createGroup({
        nc,
        subjectBase: s.collective('j', 1),
        jobId: 'j',
        generation: 1,
        rank,
        worldSize: 2,
        timeoutMs: 20_000,
        laneSecurity: { creds: creds[rank], ...(tls ? { tls } : {}) },
        ...(wrapLane ? { wrapLane } : {}),
      }),
    ),
  );
  return {
    prefix,
    s,
    creds,
    groups,
    async close() {
      await Promise.all(groups.map((g) => g.close()));
      await Promise.all(conns.map((c) => c.close()));
    },
  };
}

async function exactSums(
  t: Test,
  groups: { allreduce(d: Float32Array, o?: { algorithm?: 'ring' | 'multicast' }): Promise<unknown> }[],
  what: string,
) {
  for (const algorithm of ['ring', 'multicast'] as const) {
    const data = [input(0, 300_007, 3), input(1, 300_007, 3)];
    await Promise.all(groups.map((g, r) => g.allreduce(data[r], { algorithm })));
    t.same(
      data.map((d) => firstMismatch(d, expectedSum(2, 300_007, 3))),
      [-1, -1],
      `${what}: ${algorithm} sums are exact`,
    );
  }
}

t.test('an auth server (JWT, nonce): raw lanes sign in as the rank and sum exactly', async (t) => {
  const r = await ranksWithCreds(plain, undefined, passThrough);
  t.same(
    r.groups.map((g) => g.laneKind),
    ['raw', 'raw'],
    'raw lanes in use on a server that requires credentials (reported through a lane wrapper)',
  );
  await exactSums(t, r.groups, 'auth');
  await r.close();
});

t.test('refusals by the real server', async (t) => {
  const prefix = uniquePrefix('rr');
  const s = subjects(prefix);
  const none = await connectRawLane({ server: host(plain) }).catch((e: unknown) => e);
  t.type(none, RawLaneUnsupported, 'no creds on an auth server: unsupported (the group falls back)');
  const cr = await Promise.all([0, 1].map((r) => plain.auth!.mint(`actor:f${r}`, actorPermissions(s, 'f', `f${r}`))));
  const fc = await Promise.all(cr.map((c) => connect(natsOptions(plain.url, c))));
  const fg = await Promise.all(
    fc.map((nc, rank) =>
      createGroup({ nc, subjectBase: s.collective('f', 1), jobId: 'f', generation: 1, rank, worldSize: 2, timeoutMs: 20_000 }),
    ),
  );
  t.same(
    fg.map((g) => g.laneKind),
    ['nats', 'nats'],
    'a group without laneSecurity on an auth server uses nats.js lanes',
  );
  t.match(fg[0].laneFallback, /requires auth and the lane has no credentials/, `and says why: ${fg[0].laneFallback}`);
  await Promise.all(fg.map((g) => g.close()));
  await Promise.all(fc.map((c) => c.close()));

  const other = await createTrust('attacker');
  const forged = await mintCreds(other, 'actor:x', {});
  const f = await connectRawLane({ server: host(plain), creds: forged }).catch((e: unknown) => e);
  t.type(f, Error, 'creds signed by a foreign key are refused');
  t.match(String(f), /Authorization Violation/i, `the server says why: ${String(f)}`);

  // an actor of job k may not publish into job j's collective
  const k = await plain.auth!.mint('actor:k0', actorPermissions(s, 'k', 'k0'));
  const victim = await connect(plain.options());
  const seen: string[] = [];
  const sub = victim.subscribe(`${s.collectiveJob('j')}.>`, {
    callback: (_e, m) => {
      seen.push(m.subject);
    },
  });
  await victim.flush();
  let closedWith: Error | undefined;
  const closed = new Promise<void>((resolve) => {
    void connectRawLane({
      server: host(plain),
      creds: k,
      onClosed: (e) => {
        closedWith = e;
        resolve();
      },
    }).then((lane) => {
      lane.publish(`${s.collective('j', 1)}.x`, new Uint8Array([1, 2, 3]), false);
      void lane.flush().catch(() => undefined);
    });
  });
  await closed;
  t.match(String(closedWith), /Permissions Violation/i, `another job's collective is refused: ${String(closedWith)}`);
  await victim.flush();
  t.same(seen, [], 'nothing reached job j');
  sub.unsubscribe();
  await victim.close();
});

t.test('a TLS + auth server: raw lanes over TLS with the CA; without it they are refused', async (t) => {
  const r = await ranksWithCreds(tlsServer, { ca: certs.ca });
  t.same(
    r.groups.map((g) => g.laneKind),
    ['raw', 'raw'],
    'raw lanes in use over TLS',
  );
  await exactSums(t, r.groups, 'tls');
  await r.close();

  const creds = await tlsServer.auth!.mint('actor:z', actorPermissions(subjects('z'), 'z', 'z'));
  const lane = await connectRawLane({ server: host(tlsServer), creds, tls: { ca: certs.ca } });
  await lane.flush();
  t.pass('a lane with the CA and creds connects and round-trips a PING');
  await lane.close();
  const noCa = await connectRawLane({ server: host(tlsServer), creds }).catch((e: unknown) => e);
  t.match(String(noCa), /self[- ]signed|unable to verify|certificate/i, `without the CA the certificate does not verify: ${String(noCa)}`);
  const tlsOnPlain = await connectRawLane({ server: host(plain), creds, tls: { ca: certs.ca } }).catch((e: unknown) => e);
  t.type(tlsOnPlain, RawLaneUnsupported, 'a lane told to use TLS refuses a server without it');
});
