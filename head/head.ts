/**
 * A head process's parts wired together: the NATS connection and JetStream resources, the
 * stores loaded from KV, the controller, membership, the durable followers of actor exits and
 * job progress, the periodic tick, the optional autoscaler and the REST app.
 */
import { assertServerVersion } from '../shared/nats-version.ts';
import { connectClear, watchRefusals } from '../shared/nats-refusals.ts';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { natsOptions } from '../shared/nats-connect.ts';
import { credentialMinter } from './auth/minter.ts';
import { TokenStore } from './auth/token-store.ts';
import { ensureKv } from '../shared/js-assets.ts';
import { nodeOfSubject, subjects } from '../shared/subjects.ts';
import { silentLogger } from '../shared/logger.ts';
import { ActorExit } from '../shared/schemas/actor.ts';
import { JobEvent } from '../shared/schemas/event.ts';
import { DEFAULTS } from '../shared/config.ts';
import { openResources, type HeadResources } from './resources.ts';
import { JobStore } from './state/job-store.ts';
import { NodeStore } from './state/node-store.ts';
import { Controller } from './controller.ts';
import type { Head, HeadOptions } from './head-options.ts';
import { watchNodeConnections } from './supervisor/node-connections.ts';

export type { Head, HeadOptions } from './head-options.ts';
export { tlsOption } from './api/tls-option.ts';
import { watchMembership } from './supervisor/membership.ts';
import { serveJoins } from './supervisor/join.ts';
import { followDurable, type DurableFollower } from './events/durable.ts';
import { readEvents } from './events/read.ts';
import { stepLosses } from './tune/step-losses.ts';
import { renderMetrics } from './metrics.ts';
import { build } from './api/app.ts';
import type { ApiContext } from './api/context.ts';
import { Autoscaler } from './autoscaler/autoscaler.ts';
import { acquireLease } from './lease.ts';
import { NatsView } from './view.ts';
import { AccountRevoker, readRevoker, syncRevocations, type RevocationSync } from './auth/revocations.ts';
import { ensureJoinTokenFile } from './auth/join-token-file.ts';
import { FaultDirector } from './faults/director.ts';
import { serveFaultReports } from './faults/reports.ts';
import { StudyStore } from './state/study-store.ts';
import { StudyRunner } from './tune/runner.ts';

export async function startHead(o: HeadOptions): Promise<Head> {
  const log = o.log ?? silentLogger();
  const id = `head-${hostname()
    .replace(/[^A-Za-z0-9_-]/g, '')
    .slice(0, 20)}-${process.pid}-${randomBytes(2).toString('hex')}`;
  const s = subjects(o.prefix);
  const deadAfterMs = o.deadAfterMs ?? DEFAULTS.deadAfterMs;
  // every server URL, reconnect forever; a ping each second so a dead link shows in ~3 s
  const nc = await connectClear(
    natsOptions(o.natsUrl, o.natsCreds, { name: id, maxReconnectAttempts: -1, reconnectTimeWait: 500, pingInterval: 1000, maxPingOut: 2 }),
    'the head',
  );
  await assertServerVersion(nc); // refuses a server older than MIN_NATS_SERVER with one clear message
  watchRefusals(nc, log, 'the head');
  const minter = o.natsSigningKey && o.natsCreds ? credentialMinter(s, o.natsSigningKey, o.natsCreds) : undefined;
  const revokedJoinTokens = new Set<string>();
  const stops: Array<() => Promise<void> | void> = [() => nc.drain().catch(() => nc.close())];
  const stopAll = async () => {
    for (const f of stops.reverse()) await Promise.resolve(f()).catch(() => undefined);
  };
  try {
    const res: HeadResources = await openResources(nc, s, { replicas: o.replicas });
    log.info({ cluster_size: res.clusterSize, replicas: res.replicas, assets: res.assets }, 'JetStream assets ready');
    for (const a of res.assets)
      if (a.action === 'kept') log.warn({ stream: a.stream, replicas: a.replicas, note: a.note }, 'asset kept below the asked replicas');
    let onLost = () => {
      log.error({ head: id }, 'lease lost: this head stops deciding');
    };
    const leaseMs = o.leaseMs ?? deadAfterMs;
    const lease = await acquireLease(res.lease, { headId: id, leaseMs, log, onLost: () => onLost() });
    stops.push(() => lease.release());
    const view = new NatsView(nc, { leaseRenewedAt: () => lease.renewedAt(), leaseMs });
    stops.push(() => view.stop());
    // while the head is cut off, KV calls fail at once instead of waiting out their retries
    const retry = { failFast: () => view.problem(2) };
    const jobs = new JobStore(res.jobs, retry);
    const nodes = new NodeStore(res.nodes, { retry });
    const studyStore = new StudyStore(res.studies, retry);
    const [nJobs, nNodes, nStudies] = [await jobs.load(), await nodes.load(), await studyStore.load()];
    log.info({ head: id, jobs: nJobs, nodes: nNodes, studies: nStudies, prefix: o.prefix }, 'head state loaded from KV');
    // set once the token store exists: the actor users minted for a node are recorded under the join token that admitted it
    let recordActors = async (_node: string, _users: string[]): Promise<void> => {};
    const ctl = new Controller({
      nc,
      js: res.js,
      s,
      jobs,
      nodes,
      log,
      view,
      minter,
      stores: res.stores,
      issued: (n, u) => recordActors(n, u),
      opts: {
        deadAfterMs,
        restartBackoffMs: o.restartBackoffMs ?? DEFAULTS.restartBackoffMs,
        spawnTimeoutMs: 15_000,
        actorGraceMs: 2 * deadAfterMs,
        ...(o.lateProgressMs !== undefined ? { lateProgressMs: o.lateProgressMs } : {}),
      },
    });
    stops.push(() => ctl.close());
    const faults = new FaultDirector({
      nc,
      js: res.js,
      s,
      jobs,
      nodes,
      checkpoints: (jobId) => res.stores.open(jobId, 'ckpt'),
      log: log.child({ part: 'faults' }),
      serial: (fn) => ctl.serial(fn),
    });
    ctl.attachFaults(faults);
    const faultReports = serveFaultReports(nc, s, faults, log);
    stops.push(() => faultReports.unsubscribe());
    const readArtifact = async (jobId: string, name: string): Promise<string | null> => {
      const os = await res.stores.open(jobId, 'art');
      const b = os && (await os.getBlob(`${jobId}/${name}`));
      return b ? new TextDecoder().decode(b) : null;
    };
    const studies = new StudyRunner({
      studies: studyStore,
      jobs,
      log: log.child({ part: 'tune' }),
      artifact: readArtifact,
      stepLosses: (jobId) => stepLosses(readEvents(res.js, res.jsm, s, jobId, { follow: false })),
      problem: () => view.problem(2),
      submit: (spec, owner, as) => ctl.submit(spec, owner, undefined, as),
      cancel: (jobId) => ctl.cancel(jobId),
    });
    studies.start(Math.max(o.tickMs ?? 250, 250));
    stops.push(() => studies.stop());
    onLost = () => {
      ctl.close();
      studies.stop();
      o.onLeaseLost?.();
    };
    const membership = watchMembership(nc, s, ctl, log, id);
    // set once the token store exists: every node admitted by a pool token is recorded under it
    let recordJoin = async (_token: string, _publicKey: string, _node: string): Promise<void> => {};
    if (minter) {
      const joins = serveJoins(
        nc,
        s,
        { minter, known: (n) => ctl.nodes.has(n), revoked: (t) => revokedJoinTokens.has(t), granted: (t, k, n) => recordJoin(t, k, n) },
        log,
      );
      stops.push(() => joins.unsubscribe());
    }
    stops.push(() => membership.stop());
    if (o.natsRevoker && o.natsCreds) await watchNodeConnections(o, id, nc, ctl, s, log, stops);
    const followers: DurableFollower[] = [
      await followDurable(res.js, res.jsm, {
        stream: res.exitsStream,
        durable: 'head_exits',
        subject: s.allActorExits,
        schema: ActorExit,
        deliverAll: true,
        log,
        handler: (x, _seq, subject) => ctl.onExit(x, nodeOfSubject(subject)),
      }),
      await followDurable(res.js, res.jsm, {
        stream: s.eventsStream,
        durable: 'head_progress',
        subject: s.allJobEvents,
        schema: JobEvent,
        log,
        handler: async (e) => ctl.onEvent(e),
      }),
    ];
    stops.push(async () => {
      for (const f of followers) await f.stop();
    });
    const timer = setInterval(() => {
      void ctl.tick().catch((e: Error) => log.error({ err: e.message }, 'tick failed'));
    }, o.tickMs ?? 250);
    stops.push(() => clearInterval(timer));
    let autoscaler: Autoscaler | undefined;
    if (o.autoscaler) {
      // a platform that names its nodes gets one pool token; otherwise each node its own credential
      const joinToken = minter
        ? (nodeId: string, pool: boolean) => (pool ? minter.pool('autoscaler') : minter.worker(nodeId, 'autoscaler'))
        : undefined;
      autoscaler = new Autoscaler(ctl, { joinToken, ...o.autoscaler }, log.child({ part: 'autoscaler' }));
      autoscaler.start();
      stops.push(() => autoscaler?.stop());
    }
    const started = Date.now();
    let tokens: TokenStore | undefined;
    let firstAdminToken: string | undefined;
    if (o.restAuth) {
      tokens = new TokenStore((await ensureKv(res.js, res.jsm, s.tokensBucket, res.replicas, { history: 1 })).kv, {
        cutOff: () => view.problem(2),
        ...(o.tokenClock ? { now: o.tokenClock } : {}),
      });
      for (const t of await tokens.revokedWorkerTokens()) revokedJoinTokens.add(t);
      if (!(await tokens.hasAdmin())) firstAdminToken = (await tokens.create('admin', 'first-admin')).token;
      const store = tokens;
      recordJoin = (t, k, n) => store.addUser(t, k, n);
      recordActors = (n, u) => store.addNodeUsers(n, u);
    }
    if (o.joinTokenFile) {
      const j = await ensureJoinTokenFile(o.joinTokenFile, tokens, minter);
      log.info({ file: o.joinTokenFile, token: j.id, created: j.created }, j.created ? 'pool join token written' : 'pool join token kept');
    }
    let revocations: RevocationSync | undefined;
    if (o.natsRevoker && tokens) {
      const store = tokens;
      revocations = syncRevocations(
        new AccountRevoker(readRevoker(o.natsRevoker), o.natsUrl),
        () => store.revokedUsers(),
        (err) => log.warn({ err: err.message }, 'NATS revocations not pushed (retried)'),
      );
      const r = revocations;
      stops.push(() => r.stop());
    } else if (tokens && minter) {
      log.warn(
        'no NATS revoker (--nats-revoker revoker.json of flotilla nats-trust): a revoked join token stops new joins, but its nodes stay connected',
      );
    }
    const ctx: ApiContext = {
      faults,
      tokens,
      minter,
      async onWorkerTokenRevoked(t) {
        revokedJoinTokens.add(t);
        await revocations
          ?.now()
          .catch((err: Error) =>
            log.error(
              { err: err.message, token: t },
              'token revoked, but its NATS users could not be revoked on the servers yet (retried)',
            ),
          );
      },
      submitLimits: {
        datasets: resolve(o.paths?.datasets ?? 'datasets'),
        models: resolve(o.paths?.models ?? 'models'),
        ...(o.autoscaler ? { maxRanks: (o.autoscaler.maxWorkers ?? 4) * (o.autoscaler.slotsPerWorker ?? 1) } : {}),
      },
      ctl,
      studies: { store: studyStore, runner: studies },
      events: (jobId, opts) => readEvents(res.js, res.jsm, s, jobId, opts),
      async artifact(jobId, name) {
        const os = await res.stores.open(jobId, 'art');
        const r = os && (await os.get(`${jobId}/${name}`));
        return r ? { size: r.info.size, body: r.data } : null;
      },
      async artifactNames(jobId) {
        const os = await res.stores.open(jobId, 'art');
        const all = os ? await os.list() : [];
        return all.filter((i) => i.name.startsWith(`${jobId}/`)).map((i) => ({ name: i.name.slice(jobId.length + 1), bytes: i.size }));
      },
      health: () => {
        const problem = view.problem();
        const nats = nc.isClosed() ? 'closed' : problem?.startsWith('not connected') ? 'reconnecting' : 'connected';
        return {
          ok: problem === null,
          nats,
          head: id,
          uptime_s: Math.round((Date.now() - started) / 1000),
          stale_ms: view.staleMs(),
          ...(problem ? { reason: problem } : {}),
        };
      },
      staleMs: () => view.staleMs(),
      metrics: () => renderMetrics(ctl.jobs.list(), ctl.nodes.list(), { uptimeS: (Date.now() - started) / 1000 }),
    };
    const app = await build({ ctx, log: log.child({ part: 'http' }), https: o.tls });
    stops.push(() => app.close());
    let url = '';
    if (o.port !== null) {
      const host = o.host ?? DEFAULTS.headHost;
      await app.listen({ host, port: o.port ?? DEFAULTS.headPort });
      const addr = app.server.address();
      const port = typeof addr === 'object' && addr ? addr.port : o.port;
      url = `${o.tls ? 'https' : 'http'}://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`;
    }
    void ctl.tick();
    void ctl.sealEnded();
    return { url, id, app, ctl, nc, autoscaler, minter, tokens, firstAdminToken, stop: stopAll };
  } catch (e) {
    await stopAll();
    throw e;
  }
}
