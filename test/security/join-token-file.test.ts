/**
 * The head's join-token file (`--join-token-file`, a Compose volume shared with the workers):
 * the head writes a pool join token (0600) when the file holds no valid one, keeps it across
 * starts, replaces a revoked one; a worker agent started with only FLOTILLA_JOIN_TOKEN_FILE
 * waits for the file, then joins the authenticated server with it.
 */
import t from 'tap';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { headFixture } from '../head/helpers/head.ts';
import { startProc, ourEntry } from '../head/helpers/procs.ts';
import { parseJoinToken } from '../../shared/join-token.ts';
import { ensureJoinTokenFile, JOIN_FILE_TOKEN_NAME } from '../../head/auth/join-token-file.ts';
import { waitJoinTokenFile } from '../../worker/agent/join-token-file.ts';

t.test('the head writes, keeps and rotates the pool join token file; a worker joins with it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'flotilla-join-file-'));
  const file = join(dir, 'sub', 'join-token');
  const { head, nats, prefix } = await headFixture(t, { restAuth: true, joinTokenFile: file });
  const first = readFileSync(file, 'utf8').trim();
  t.equal(statSync(file).mode & 0o777, 0o600, 'the token file is readable by its owner only');
  const cred = parseJoinToken(first);
  t.equal(cred.kind, 'pool', 'it holds a pool join token (workers name themselves)');
  const rec = (await head.tokens!.list()).find((x) => x.id === (cred.kind === 'pool' ? cred.tokenId : ''));
  t.equal(rec?.role, 'worker', 'the token is in the token store as a worker token');
  t.equal(rec?.name, JOIN_FILE_TOKEN_NAME);

  const again = await ensureJoinTokenFile(file, head.tokens, head.minter);
  t.same({ created: again.created, id: again.id }, { created: false, id: rec?.id }, 'a restart keeps a valid token');
  t.equal(readFileSync(file, 'utf8').trim(), first, 'the file is unchanged');

  const admin = { authorization: `Bearer ${head.firstAdminToken}` };
  const r = await head.app.inject({ method: 'DELETE', url: `/v1/tokens/${rec?.id}`, headers: admin });
  t.equal(r.statusCode, 200, 'the file token revoked');
  const rotated = await ensureJoinTokenFile(file, head.tokens, head.minter);
  t.ok(rotated.created && rotated.id !== rec?.id, 'the next start writes a new token for a revoked one');
  t.not(readFileSync(file, 'utf8').trim(), first);

  writeFileSync(file, 'garbage\n');
  const fixed = await ensureJoinTokenFile(file, head.tokens, head.minter);
  t.ok(fixed.created, 'a file that holds no join token is replaced');

  // a worker that starts before the file exists waits for it, then joins
  const late = join(dir, 'late-token');
  const agent = startProc(
    t,
    ourEntry('worker/agent/main.ts'),
    {
      FLOTILLA_NATS_URL: nats.url,
      FLOTILLA_PREFIX: prefix,
      FLOTILLA_NODE_ID: 'file-node',
      FLOTILLA_SLOTS: '1',
      FLOTILLA_WARM_ACTORS: '0',
      FLOTILLA_JOIN_TOKEN_FILE: late,
      FLOTILLA_JOIN_TOKEN: '',
      FLOTILLA_NATS_CREDS: '',
    },
    'agent file-node',
  );
  await agent.line(/waiting for the join token in /);
  t.pass('the worker waits for the file');
  await ensureJoinTokenFile(late, head.tokens, head.minter);
  await agent.line(/node file-node registered/);
  t.pass('the worker joined with the token from the file');
  t.ok(head.ctl.nodes.get('file-node'), 'the head knows the node');
});

t.test('refusals with a message that says what to fix', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'flotilla-join-file-'));
  await t.rejects(
    ensureJoinTokenFile(join(dir, 't'), undefined, undefined),
    { code: 'FLO_CONFIG', message: /--insecure/ },
    'no token store: auth is off',
  );
  await t.rejects(
    waitJoinTokenFile(join(dir, 'never'), { waitMs: 300, pollMs: 50 }),
    { code: 'FLO_CONFIG', message: /no join token in .*never.*--join-token-file/ },
    'a worker gives up on a file that never comes, naming it',
  );
  writeFileSync(join(dir, 'bad'), 'not-a-token');
  await t.rejects(
    waitJoinTokenFile(join(dir, 'bad'), { waitMs: 200, pollMs: 50 }),
    { code: 'FLO_CONFIG', message: /FLOJOIN1/ },
    'a file without a join token is refused with the reason',
  );
});
