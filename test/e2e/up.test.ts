/**
 * The CLI contract: `flotilla up --port P --workers N` starts nats-server, the head and N
 * workers and prints the head URL; submit and status talk to it with --server or FLOTILLA_URL
 * (the other client commands are tested in-process in test/head/cli.test.ts);
 * SIGTERM stops everything (no orphaned nats-server or worker process).
 */
import t from 'tap';
import { connect as tcpConnect } from 'node:net';
import { freePort } from '../kit/nats-server.ts';
import { HeadClient } from '../../bin/cli/client.ts';
import { startProc, cli } from '../head/helpers/procs.ts';
import { until } from '../head/helpers/wait.ts';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
function listening(port: number): Promise<boolean> {
  return new Promise((r) => {
    const s = tcpConnect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      r(true);
    });
    s.once('error', () => {
      s.destroy();
      r(false);
    });
  });
}

t.test('flotilla up + submit + status --json, then SIGTERM stops everything', async (t) => {
  const port = await freePort();
  const up = startProc(
    t,
    ['bin/flotilla.mjs', 'up', '--port', String(port), '--workers', '1', '--slots', '2', '--prefix', `up${process.pid}`],
    {},
    'flotilla up',
  );
  const natsLine = await up.line(/^flotilla up: nats /);
  const url = (await up.line(/flotilla head listening on /)).replace(/^.*listening on /, '').trim();
  t.equal(url, `http://127.0.0.1:${port}`, 'prints the head URL');
  const natsPort = Number(/:(\d+),/.exec(natsLine)![1]);
  const api = new HeadClient(url);
  await until('the local worker registered', async () => (await api.workers()).length === 1);
  const workerPids = (await api.workers()).map((w) => w.pid);
  const server = ['--server', url];

  const sub = await cli(['submit', ...server, '--workers', '2', '--steps', '5', '--name', 'cli-demo']);
  t.equal(sub.code, 0, `submit exits 0 ${sub.stderr}`);
  const id = sub.stdout.trim();
  t.match(id, /^[A-Za-z0-9_-]+$/, 'submit prints the job id');
  await until(
    'succeeded with its last step',
    async () => {
      const j = await api.get(id);
      return j.state === 'succeeded' && j.step === 5;
    },
    90_000,
  );
  const st = await cli(['status', id, '--json'], { FLOTILLA_URL: url });
  t.equal(st.code, 0);
  const rec = JSON.parse(st.stdout);
  t.match(rec, { id, state: 'succeeded', generation: 0, restarts: 0, step: 5 }, 'status --json (FLOTILLA_URL)');
  await up.kill('SIGTERM');
  t.equal((await up.exited).code, 0, 'flotilla up exits 0 on SIGTERM');
  for (const pid of workerPids) t.notOk(alive(pid), `worker ${pid} stopped`);
  t.notOk(await listening(natsPort), 'nats-server stopped');
  t.notOk(await listening(port), 'head stopped');
});
