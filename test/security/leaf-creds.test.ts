/**
 * A worker host's leaf user (`flotilla leaf-creds`, head/auth/nats-permissions.ts leafPermissions)
 * as an attacker who is root on that host uses it: connected straight to a cluster server, not
 * through a leaf. It may speak on its own nodes' subjects and on any job's collective, events and
 * object stores (any job's actors may run there) and ask any job's rank 0 for a checkpoint, and
 * the server refuses it another host's node and exit subjects, their control requests (a spawn carries the actor's creds) and inboxes, KV writes,
 * purges of the head's streams, deletes of the head's consumers, acks on them, control requests
 * and job aborts.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { startNatsServer } from '../kit/nats-server.ts';
import { ROOT } from '../head/helpers/procs.ts';
import { subjects } from '../../shared/subjects.ts';
import { credsJwt, jwtClaims, natsOptions } from '../../shared/nats-connect.ts';
import { mintLeafCreds } from '../../head/auth/nats-trust.ts';
import { publishVerdict, subscribeVerdict } from './helpers/verdict.ts';

t.test("a leaf host's cluster user speaks for its own nodes only and reads no one else's control requests", async (t) => {
  const srv = await startNatsServer();
  t.teardown(() => srv.stop());
  const s = subjects('lfp');
  const creds = await mintLeafCreds(srv.auth!.trust, s, ['w1', 'w1b']);
  const nc = await connect(natsOptions(srv.url, creds, { reconnect: false }));
  t.teardown(() => nc.close());
  const pub = (subject: string) => publishVerdict(nc, subject);
  const sub = (subject: string) => subscribeVerdict(nc, subject);

  for (const ok of [
    s.nodeHeartbeat('w1'),
    s.nodeLeaving('w1b'),
    s.nodeRegister('w1b'),
    s.actorExit('w1'),
    s.jobCheckpoint('j1', 'w1'),
    s.join('tok'),
    `${s.collective('j1', 0)}.x`,
    s.jobEvents('j2'),
    '$JS.flotilla.API.STREAM.INFO.OBJ_lfp_ckpt_j1',
    '$O.lfp_ckpt_j1.C.abc',
  ]) {
    t.equal(await pub(ok), 'accepted', `publish ${ok}: accepted (the host's own traffic)`);
  }
  for (const bad of [
    s.nodeHeartbeat('w2'),
    s.nodeLeaving('w2'),
    s.nodeRegister('w2'),
    s.actorExit('w2'),
    s.nodeControl('w1'),
    s.nodeControl('w2'),
    s.jobAbort('j1'),
    `$KV.${s.jobsBucket}.j1`,
    `$JS.API.STREAM.PURGE.KV_${s.jobsBucket}`,
    `$JS.API.STREAM.PURGE.KV_${s.studiesBucket}`,
    `$KV.${s.studiesBucket}.s1`,
    `$JS.flotilla.API.STREAM.PURGE.${s.eventsStream}`,
    `$JS.API.STREAM.DELETE.OBJ_lfp_ckpt_j1`,
    `$JS.API.STREAM.UPDATE.${s.eventsStream}`,
    `$JS.API.CONSUMER.DELETE.${s.eventsStream.replace(/_EVENTS$/, '_EXITS')}.head_exits`,
    `$JS.ACK.${s.eventsStream.replace(/_EVENTS$/, '_EXITS')}.head_exits.1.5.5.0.0`,
    `$JS.API.STREAM.MSG.DELETE.KV_${s.jobsBucket}`,
    `$O.${s.datasetStore}.C.x`,
  ]) {
    t.match(await pub(bad), /Permissions Violation for Publish/, `publish ${bad}: refused`);
  }
  for (const ok of [s.nodeControl('w1'), '_INBOX.n.w1.x', s.jobAbort('j1'), `${s.collective('j3', 1)}.>`, s.actorCall('j1-g0-r0')]) {
    t.equal(await sub(ok), 'accepted', `subscribe ${ok}: accepted`);
  }
  for (const bad of [s.nodeControl('w2'), 'lfp.node.*.ctl', '_INBOX.n.w2.>', '>', `$KV.${s.jobsBucket}.>`]) {
    t.match(await sub(bad), /Permissions Violation for Subscription/, `subscribe ${bad}: refused`);
  }
});

t.test('flotilla leaf-creds: a 0600 file bound to the nodes and prefix given; bad input is a usage error', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'flotilla-leaf-creds-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const cli = (...args: string[]) =>
    spawnSync(process.execPath, [join(ROOT, 'bin/flotilla.mjs'), ...args], { encoding: 'utf8', cwd: ROOT });
  t.equal(cli('nats-trust', '--out', dir).status, 0, 'a trust dir');
  const out = join(dir, 'w7.creds');
  const r = cli('leaf-creds', '--trust', dir, '--node', 'w7', '--node', 'w8', '--prefix', 'acme', '--out', out);
  t.equal(r.status, 0, `exit 0 ${r.stderr}`);
  t.equal(statSync(out).mode & 0o777, 0o600, 'written 0600');
  const claims = jwtClaims(credsJwt(readFileSync(out, 'utf8'))) as {
    name?: string;
    nats?: { pub?: { allow?: string[] }; sub?: { allow?: string[] } };
  };
  t.equal(claims.name, 'leaf:w7,w8', 'named for its nodes');
  t.ok(
    claims.nats?.pub?.allow?.includes('acme.node.w7.>') && claims.nats.pub.allow.includes('acme.exit.w8'),
    "its nodes' subjects, under the prefix given",
  );
  t.notOk(
    claims.nats?.pub?.allow?.some((x) => x.includes('.node.*') || x === '>'),
    "no other node's",
  );
  t.equal(cli('leaf-creds', '--trust', dir, '--out', out).status, 2, 'no --node: usage error');
  const bad = cli('leaf-creds', '--trust', dir, '--node', 'a.b', '--out', out);
  t.equal(bad.status, 2, 'a node id with a dot: refused');
  t.match(bad.stderr, /invalid node id 'a\.b'/, 'naming the id');
});
