/**
 * The exec provider on a replica-count platform (as deploy/k8s drives a Deployment): the up
 * command starts a real worker agent under a name the platform picks (not the autoscaler's
 * id), the list command prints the running names, the down command stops one by name. The
 * pool scales up for a pending 2-rank job without overshooting, the job succeeds, and the idle
 * workers are stopped by their real names (they drain and exit).
 */
import t from 'tap';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startNatsServer, uniquePrefix } from '../kit/nats-server.ts';
import { startHead } from '../../head/head.ts';
import { ExecProvider } from '../../head/autoscaler/provider-exec.ts';
import { HeadClient } from '../../bin/cli/client.ts';
import { until } from '../head/helpers/wait.ts';
import { ROOT } from '../head/helpers/procs.ts';

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

t.test('exec provider with a list command: platform-named workers up, job runs, idle ones down by name', async (t) => {
  const nats = await startNatsServer();
  t.teardown(() => nats.stop());
  const dir = mkdtempSync(join(tmpdir(), 'flotilla-pods-'));
  const pids = () =>
    readdirSync(dir)
      .filter((f) => f.endsWith('.pid'))
      .map((f) => Number(readFileSync(join(dir, f), 'utf8')));
  t.teardown(() => {
    for (const pid of pids()) if (alive(pid)) process.kill(pid, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  const c = { natsUrl: nats.url, auth: nats.auth, prefix: uniquePrefix('asl') };
  // "pod-<random>": a name the autoscaler never chose, as a ReplicaSet names its pods
  const up =
    `echo up >> '${dir}/ups'; id=pod-$(od -An -N4 -tx1 /dev/urandom | tr -d ' \\n'); ` +
    `FLOTILLA_NODE_ID=$id '${process.execPath}' '${ROOT}/bin/flotilla.mjs' worker > '${dir}/'$id.log 2>&1 & echo $! > '${dir}/'$id.pid`;
  const down = `kill -TERM $(cat '${dir}/'$FLOTILLA_NODE_ID.pid) && rm '${dir}/'$FLOTILLA_NODE_ID.pid`;
  const list = `for f in '${dir}'/*.pid; do [ -e "$f" ] && basename "$f" .pid; done; true`;
  const provider = new ExecProvider({ ...c, slots: 1, upCommand: up, downCommand: down, listCommand: list, listEveryMs: 200 });
  const head = await startHead({
    ...c,
    ...nats.auth?.headOptions,
    port: 0,
    deadAfterMs: 2000,
    // bootTimeoutMs: a loaded machine may take long to start an agent; a re-boot would add an up
    autoscaler: { provider, slotsPerWorker: 1, minWorkers: 0, maxWorkers: 3, idleTimeoutMs: 1500, intervalMs: 200, bootTimeoutMs: 600_000 },
  });
  t.teardown(() => head.stop());
  const api = new HeadClient(head.url);
  const job = await api.submit({ workers: 2, trainer: { kind: 'logreg', steps: 5 } });
  await until('two workers registered', async () => (await api.workers()).length === 2, 120_000);
  const names = (await api.workers()).map((w) => w.nodeId).sort();
  t.match(names, [/^pod-/, /^pod-/], `the workers carry the platform's names (${names.join(', ')})`);
  const done = await until(
    'finished',
    async () => {
      const j = await api.get(job.id);
      return ['succeeded', 'failed', 'cancelled'].includes(j.state) && j;
    },
    120_000,
  );
  t.equal(done.state, 'succeeded', `job succeeded (${done.message})`);
  const started = pids();
  await until('scaled back to zero', async () => pids().length === 0 && (await api.workers()).length === 0, 120_000);
  t.equal(
    readFileSync(join(dir, 'ups'), 'utf8').trim().split('\n').length,
    2,
    'exactly two up commands for a 2-rank job (booting workers counted once)',
  );
  await until('the stopped workers exited', () => started.every((pid) => !alive(pid)), 60_000);
  t.pass('both workers were stopped by their own names and exited');
  t.same(provider.list(), [], 'the provider lists no worker');
});

t.test('exec provider list: slow, overlapping listings never drop a started worker', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'flotilla-list-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // every listing reads its snapshot first, then takes a random 0-900 ms to answer (as an API
  // server's reply may lag), against a 20 ms refresh period: they would overlap and reorder
  const list = `l=$(ls '${dir}'); sleep 0.$(od -An -N1 -tu1 /dev/urandom | tr -d ' ' | cut -c1); echo "$l"`;
  const provider = new ExecProvider({
    natsUrl: 'nats://127.0.0.1:1',
    prefix: 'x',
    slots: 1,
    listEveryMs: 20,
    upCommand: `touch '${dir}/'pod-$(od -An -N4 -tx1 /dev/urandom | tr -d ' \\n')`,
    downCommand: `rm '${dir}/'$FLOTILLA_NODE_ID`,
    listCommand: list,
  });
  t.teardown(() => provider.close());
  let low = Infinity;
  for (let i = 1; i <= 4; i++) {
    await provider.up(`asked-${i}`);
    const end = Date.now() + 1500;
    while (Date.now() < end) {
      low = Math.min(low, provider.list().length - i);
      await new Promise((r) => setTimeout(r, 10));
    }
  }
  t.equal(low, 0, 'the list never showed fewer workers than were started');
  await until(
    'every placeholder replaced by the listed worker',
    async () => provider.list().every((id) => id.startsWith('pod-')) && provider.list().length === 4,
    30_000,
  );
  const victim = provider.list()[0];
  await provider.down(victim);
  t.notOk(provider.list().includes(victim), 'a stopped worker leaves the list at once');
  await provider.refresh();
  t.equal(provider.list().length, 3, 'and stays out once the platform has removed it');
});
