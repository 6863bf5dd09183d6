/**
 * The minimum nats-server (shared/nats-version.ts): the head, `flotilla worker` and `flotilla up`
 * refuse a real nats-server 2.9.10 (Debian bookworm's, fetched once by deploy/install-nats.sh
 * into a cache dir; NATS_OLD_SERVER_BIN names one instead) with one clear message, and the
 * installed server passes. Skipped, with the reason printed, where no 2.9 binary can be had.
 */
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { freePort, natsServerBinary, startNatsServer } from '../kit/nats-server.ts';
import { startHead } from '../../head/head.ts';
import { atLeast, MIN_NATS_SERVER, parseVersion } from '../../shared/nats-version.ts';
import { natsOptions } from '../../shared/nats-connect.ts';
import { ROOT } from '../head/helpers/procs.ts';

t.test('version comparison', async (t) => {
  t.ok(atLeast('2.10.0') && atLeast('v2.10.27') && atLeast('2.15.1') && atLeast('3.0.0'), 'the minimum and newer pass');
  t.notOk(atLeast('2.9.10') || atLeast('v2.9.25') || atLeast('1.99.99'), 'older ones do not');
  t.notOk(atLeast(undefined) || atLeast('unknown'), 'no version is not enough');
  t.same(parseVersion('nats-server: v2.9.10'), [2, 9, 10]);
});

t.test('the installed nats-server meets the minimum', async (t) => {
  const out = spawnSync(natsServerBinary(), ['--version'], { encoding: 'utf8' }).stdout;
  t.ok(atLeast(out), `${out.trim()} >= ${MIN_NATS_SERVER}`);
  const srv = await startNatsServer({ auth: false, jetstream: false });
  t.teardown(() => srv.stop());
  const nc = await connect(natsOptions(srv.url));
  t.ok(atLeast(nc.info?.version), `the server's INFO says ${nc.info?.version}`);
  await nc.close();
});

/** bookworm's nats-server 2.9.10, cached across runs; or why there is none. */
function oldServer(): { bin?: string; why?: string } {
  if (process.env.NATS_OLD_SERVER_BIN) return { bin: process.env.NATS_OLD_SERVER_BIN };
  const dir = join(tmpdir(), 'flotilla-nats-2.9');
  const bin = join(dir, 'nats-server');
  if (existsSync(bin)) return { bin };
  const r = spawnSync('bash', [join(ROOT, 'deploy/install-nats.sh')], {
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, FLOTILLA_NATS_SUITE: 'bookworm', FLOTILLA_NATS_MIN: '2.9.0', FLOTILLA_NATS_FORCE: '1', FLOTILLA_NATS_DEST: dir },
  });
  if (r.status === 0 && existsSync(bin)) return { bin };
  return {
    why: `cannot fetch Debian bookworm's nats-server 2.9.10 (${(r.stderr || r.error?.message || '').trim().split('\n').pop()}); set NATS_OLD_SERVER_BIN`,
  };
}

const old = oldServer();
t.test('a nats-server 2.9.10 is refused', { skip: old.why ? `old-server checks skipped: ${old.why}` : false }, async (t) => {
  const bin = old.bin!;
  const ver = spawnSync(bin, ['--version'], { encoding: 'utf8' }).stdout.trim();
  t.match(ver, /v2\.9\./, `the old server is ${ver}`);
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'flotilla-oldnats-'));
  writeFileSync(join(dir, 'n.conf'), `listen: 127.0.0.1:${port}\njetstream { store_dir: "${dir}", domain: flotilla }\n`);
  const srv = spawn(bin, ['-c', join(dir, 'n.conf')], { stdio: 'ignore' });
  t.teardown(() => {
    srv.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  const url = `nats://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    const nc = await connect({ servers: url }).catch(() => undefined);
    if (nc) {
      await nc.close();
      break;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const want = new RegExp(
    `nats-server v?2\\.9\\.10 at .* is older than ${MIN_NATS_SERVER.replaceAll('.', '\\.')}.*deploy/install-nats\\.sh`,
  );

  await t.rejects(startHead({ natsUrl: url, prefix: 'oldv', port: 0 }), want, 'the head refuses it');

  const cli = (args: string[], env: Record<string, string> = {}) =>
    new Promise<{ code: number | null; out: string }>((resolve) => {
      const p = spawn(process.execPath, [join(ROOT, 'bin/flotilla.mjs'), ...args], {
        env: { ...process.env, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      p.stdout.on('data', (d) => {
        out += d;
      });
      p.stderr.on('data', (d) => {
        out += d;
      });
      const k = setTimeout(() => p.kill('SIGKILL'), 60_000);
      p.once('exit', (code) => {
        clearTimeout(k);
        resolve({ code, out });
      });
    });
  const w = await cli(['worker', '--nats', url, '--node-id', 'oldv-w'], { FLOTILLA_LOG_LEVEL: 'fatal' });
  t.not(w.code, 0, `flotilla worker exits ${w.code}`);
  t.match(w.out, want, `flotilla worker says why: ${w.out.trim().split('\n').pop()}`);

  const up = await cli(['up', '--port', '0', '--workers', '0'], { NATS_SERVER_BIN: bin });
  t.not(up.code, 0, `flotilla up exits ${up.code}`);
  t.match(
    up.out,
    new RegExp(`nats-server v?2\\.9\\.10 at .* is older than ${MIN_NATS_SERVER.replaceAll('.', '\\.')}`),
    `flotilla up says why: ${up.out.trim().split('\n').pop()}`,
  );
});
