/**
 * A worker behind a leaf server with its host's own leaf user (`flotilla leaf-creds`), on one
 * machine (no network namespaces: this runs wherever nats-server does): a cluster server with a
 * leaf listener, a leaf server whose remote authenticates with creds bound to node `lf1`, the head
 * on the cluster server and the worker agent on the leaf. The agent registers (a request on
 * `<p>.node.lf1.register` to the head's wildcard subscription: nats-server tells a leaf of it
 * only when the leaf user's allow list names the subject token for token), a 2-rank job trains
 * through the leaf to its final step with checkpoints (JetStream in the domain, object stores,
 * fencing reads), and an agent that calls itself another node is refused at the leaf and says so
 * (the node id and the leaf-creds command). A pool-token worker on the leaf names itself after
 * the host (the id `leaf-creds --node "$(hostname)"` allows) and registers; one told to use an id
 * the leaf does not carry exits at once with that message.
 */
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startNatsServer, freePort, uniquePrefix } from '../kit/nats-server.ts';
import { startHead } from '../../head/head.ts';
import { HeadClient } from '../../bin/cli/client.ts';
import { mintLeafCreds } from '../../head/auth/nats-trust.ts';
import { subjects } from '../../shared/subjects.ts';
import { startAgentProc, startProc, ourEntry } from '../head/helpers/procs.ts';
import { until } from '../head/helpers/wait.ts';
import { hostNodeId } from '../../worker/agent/start.ts';
import { joinerPermissions } from '../../head/auth/nats-permissions.ts';
import { joinTokenOf } from '../../shared/join-token.ts';

t.test('a worker behind a leaf bound to its node registers and trains; the leaf carries nothing for another node', async (t) => {
  const leafPort = await freePort();
  const hub = await startNatsServer({ extraConfig: `leafnodes { listen: 127.0.0.1:${leafPort} }` });
  t.teardown(() => hub.stop());
  const auth = hub.auth!;
  const prefix = uniquePrefix('ll');
  const dir = mkdtempSync(join(tmpdir(), 'flotilla-leaf-local-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const creds = join(dir, 'leaf.creds');
  writeFileSync(creds, await mintLeafCreds(auth.trust, subjects(prefix), ['lf1', hostNodeId()]), { mode: 0o600 });
  const leaf = await startNatsServer({
    jetstream: false,
    authDir: auth.dir,
    extraConfig: `leafnodes { remotes: [ { url: "nats-leaf://127.0.0.1:${leafPort}", credentials: "${creds}", account: "${auth.trust.accountPub}" } ] }`,
  });
  t.teardown(() => leaf.stop());
  const head = await startHead({ natsUrl: hub.url, prefix, ...auth.headOptions, port: 0, deadAfterMs: 3000, restartBackoffMs: 200 });
  t.teardown(() => head.stop());
  const api = new HeadClient(head.url);

  const agent = await startAgentProc(t, { natsUrl: leaf.url, prefix, auth }, 'lf1', 2, false);
  await until('lf1 registered', () => /registered/.test(agent.output()) || undefined, 60_000);
  t.pass('the agent behind the leaf registered with the head on the cluster server');
  const job = await api.submit({ workers: 2, checkpoint_every: 5, trainer: { kind: 'logreg', steps: 20, step_delay_ms: 20 } });
  const done = await until(
    'the job ended',
    async () => {
      const j = await api.get(job.id);
      return ['succeeded', 'failed', 'cancelled'].includes(j.state) && j;
    },
    120_000,
  );
  t.match(done, { state: 'succeeded', step: 20, restarts: 0 }, `trained through the leaf to its final step (${done.message})`);
  t.ok((done.checkpoint_step ?? 0) >= 5, `checkpoints stored through the leaf (last at step ${done.checkpoint_step})`);

  // a genuine agent credential for node lf2 on this leaf: the leaf's cluster user carries nothing of lf2's
  const other = startProc(
    t,
    ourEntry('worker/agent/main.ts'),
    {
      FLOTILLA_NATS_URL: leaf.url,
      FLOTILLA_PREFIX: prefix,
      FLOTILLA_NODE_ID: 'lf2',
      FLOTILLA_SLOTS: '1',
      FLOTILLA_JOIN_TOKEN: await auth.joinToken(prefix, 'lf2'),
      FLOTILLA_LOG_LEVEL: 'debug',
    },
    'agent lf2',
  );
  const said = await other.line(/node lf2: no head answers its registration/);
  t.match(
    said,
    /\(a leaf server\).*flotilla leaf-creds --trust \S+ --node lf2 --out leaf\.creds/,
    'lf2 says why: the leaf, the node id and the command to run',
  );
  t.notOk(
    (await api.workers()).some((w) => w.nodeId === 'lf2'),
    "node lf2 never reaches the head through lf1's leaf",
  );
  t.notMatch(other.output(), /registered/, 'and its agent is not registered');

  // pool join tokens (as `flotilla token create --role worker` without --name makes them)
  const pool = joinTokenOf(await auth.mint('joiner:leafpool', joinerPermissions(subjects(prefix), 'leafpool')));
  const poolAgent = (label: string, env: Record<string, string>) =>
    startProc(
      t,
      ourEntry('worker/agent/main.ts'),
      {
        FLOTILLA_NATS_URL: leaf.url,
        FLOTILLA_PREFIX: prefix,
        FLOTILLA_SLOTS: '1',
        FLOTILLA_JOIN_TOKEN: pool,
        ...env,
      },
      label,
    );
  const stray = poolAgent('agent lf3', { FLOTILLA_NODE_ID: 'lf3' });
  const gone = await stray.exited;
  t.equal(gone.code, 1, 'a pool worker with a node id the leaf does not carry exits 1 at once');
  t.match(
    stray.output(),
    /flotilla worker: node lf3: no head answers its registration .*the head answered this node's join a moment ago.*--node lf3/,
    'naming the node id and the leaf-creds command',
  );
  const byHost = poolAgent('agent host', {});
  await byHost.line(new RegExp(`node ${hostNodeId()} registered`));
  t.pass(`a pool worker without --node-id on the leaf is node ${hostNodeId()} (the host name) and registers`);
});
