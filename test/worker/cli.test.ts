import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { workerPermissions } from '../../head/auth/nats-permissions.ts';
import { decode } from '../../shared/codec.ts';
import { NodeInfo } from '../../shared/schemas/index.ts';
import { REPO_ROOT } from '../../worker/agent/start.ts';
import { natsEnv, pretendHead } from './helpers.ts';

const cli = (args: string[]) => spawnSync(process.execPath, ['bin/flotilla.mjs', 'worker', ...args], { cwd: REPO_ROOT, encoding: 'utf8' });

t.test('flotilla worker --help and a bad flag', async (t) => {
  const help = cli(['--help']);
  t.equal(help.status, 0);
  t.match(help.stdout, /--slots N/);
  const bad = cli(['--bogus']);
  t.equal(bad.status, 2);
  t.match(bad.stderr, /bogus/);
});

t.test('flotilla worker --nats --prefix --node-id --slots registers, and SIGTERM ends it with 0', async (t) => {
  const env = await natsEnv(t, 'cli');
  const regs = pretendHead(env.nc, env.s);
  // the kit's server requires credentials: the node's own, as a head would mint them
  const dir = mkdtempSync(join(tmpdir(), 'flotilla-cli-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const creds = join(dir, 'node.creds');
  writeFileSync(creds, await env.srv.auth!.mint('worker:cli-node:t1', workerPermissions(env.s, 'cli-node')));
  const proc = spawn(
    process.execPath,
    [
      'bin/flotilla.mjs',
      'worker',
      '--nats',
      env.srv.url,
      '--creds',
      creds,
      '--prefix',
      env.prefix,
      '--node-id',
      'cli-node',
      '--slots',
      '2',
    ],
    {
      cwd: REPO_ROOT,
      env: { ...process.env, FLOTILLA_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const exited = new Promise<number | null>((r) => proc.once('exit', (c) => r(c)));
  t.teardown(() => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  });
  const line = await new Promise<string>((resolve) =>
    createInterface({ input: proc.stdout! }).on('line', (l) => {
      if (/registered/.test(l)) resolve(l);
    }),
  );
  t.match(line, /node cli-node registered \(slots 2/);
  t.match(decode(NodeInfo, await regs.next()), { nodeId: 'cli-node', slots: 2 });
  proc.kill('SIGTERM');
  t.equal(await exited, 0);
});
