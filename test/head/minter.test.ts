/** The head's minter (head/auth/minter.ts): one actor user key per node, a new one after the node registers again. */
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serverAuth } from '../../head/embedded-nats.ts';
import { credentialMinter } from '../../head/auth/minter.ts';
import { credsJwt, jwtClaims } from '../../shared/nats-connect.ts';
import { subjects } from '../../shared/subjects.ts';

t.test('actors of a node share a user key until the node registers again; each has its own JWT', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'flotilla-minter-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const auth = await serverAuth(dir);
  const m = credentialMinter(subjects('p'), auth.signingKey, auth.headCreds);
  const claims = async (job: string, actor: string, node: string) =>
    jwtClaims(credsJwt(await m.actor(job, actor, node))) as { sub?: string; name?: string; nats?: { pub?: { allow?: string[] } } };
  const a = await claims('j1', 'j1-g0-r0', 'n1');
  const b = await claims('j2', 'j2-g0-r0', 'n1');
  const c = await claims('j1', 'j1-g0-r1', 'n2');
  t.equal(a.sub, b.sub, 'two actors on n1: one user');
  t.not(a.sub, c.sub, 'another node: another user');
  t.not(a.name, b.name, 'each actor its own JWT');
  t.ok(a.nats?.pub?.allow?.includes('p.events.j1') && !a.nats.pub.allow.includes('p.events.j2'), "with its own job's subjects only");
  m.forgetNode('n1');
  const d = await claims('j3', 'j3-g0-r0', 'n1');
  t.not(d.sub, a.sub, 'after n1 registers again: a new user key');
  t.equal((await claims('j1', 'j1-g1-r1', 'n2')).sub, c.sub, 'n2 keeps its own');
});
