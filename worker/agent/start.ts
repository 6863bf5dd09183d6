/** Builds a running agent from config: connection, backend probe, signals, the registered line. */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { credsText, natsOptions } from '../../shared/nats-connect.ts';
import { FlotillaError } from '../../shared/errors.ts';
import { assertServerVersion } from '../../shared/nats-version.ts';
import { connectClear, watchRefusals } from '../../shared/nats-refusals.ts';
import { parseJoinToken, workerIdentity } from '../../shared/join-token.ts';
import { subjects } from '../../shared/subjects.ts';
import { joinPool } from './join-pool.ts';
import { waitJoinTokenFile } from './join-token-file.ts';
import { loadConfig, type ConfigInput } from '../../shared/config.ts';
import { natsSettingsEnv, useNatsSettings } from '../../shared/nats-settings.ts';
import { createLogger } from '../../shared/logger.ts';
import { Agent } from './agent.ts';
import { probeBackend } from './backend-probe.ts';
import { findGpus } from './gpus.ts';

import { REPO_ROOT } from '../../shared/run-entry.ts';

export { REPO_ROOT };
/** The actor's entry (its source; run compiled from dist/ when that is current: shared/run-entry.ts). */
export const ACTOR_ENTRY = join(REPO_ROOT, 'worker', 'actor', 'main.ts');

/** A node id from the host name plus a random tail (NATS-token safe). */
export function defaultNodeId(): string {
  const host =
    hostname()
      .replace(/[^A-Za-z0-9_-]/g, '-')
      .slice(0, 40) || 'node';
  return `${host}-${randomBytes(3).toString('hex')}`;
}

/** The host name as a node id: what `flotilla leaf-creds --node "$(hostname)"` allows. */
export function hostNodeId(): string {
  return (
    hostname()
      .replace(/[^A-Za-z0-9_-]/g, '-')
      .slice(0, 64) || 'node'
  );
}

/** Whether every URL dials this host (a leaf server's 127.0.0.1 listener). */
export function loopbackOnly(natsUrl: string): boolean {
  return natsUrl.split(',').every((u) => /^(nats|tls):\/\/(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?\/?$/i.test(u.trim()));
}

/**
 * The node's identity: a join token (or worker creds) names its node, and a configured node id
 * must agree; a pool join token is traded with the head for this node's own credentials
 * (joinPool); without either the node is anonymous (a server without auth) with a generated id.
 * A pool-token node that dials only this host (its leaf server) is named after the host, the id
 * the leaf's creds are made for (`leaf-creds --node "$(hostname)"`); elsewhere `<host>-<6 hex>`.
 */
export async function workerCredential(
  natsUrl: string,
  joinToken: string | undefined,
  natsCreds: string | undefined,
  nodeId: string | undefined,
  prefix: string,
): Promise<{ nodeId: string; creds?: string; joined?: boolean }> {
  const cred = joinToken ? parseJoinToken(joinToken) : undefined;
  if (cred?.kind === 'pool') {
    const id = nodeId ?? (loopbackOnly(natsUrl) ? hostNodeId() : defaultNodeId());
    return { nodeId: id, creds: await joinPool(natsUrl, cred.creds, cred.tokenId, id, subjects(prefix)), joined: true };
  }
  const creds = cred?.creds ?? (natsCreds ? credsText(natsCreds) : undefined);
  if (!creds) return { nodeId: nodeId ?? defaultNodeId() };
  const named = cred?.kind === 'node' ? cred.nodeId : workerIdentity(creds).nodeId;
  if (nodeId && nodeId !== named)
    throw new FlotillaError(
      'FLO_CONFIG',
      `the join credential is for node '${named}', not '${nodeId}': drop --node-id or create a token with --name ${nodeId}`,
    );
  return { nodeId: named, creds };
}

export interface StartedAgent {
  agent: Agent;
  /** resolves with the exit code once the agent has left (after SIGTERM/SIGINT) */
  done: Promise<number>;
}

export async function startAgent(overrides: ConfigInput = {}): Promise<StartedAgent> {
  const cfg = loadConfig({ overrides });
  // every NATS connection of this process uses the config's CA and domain; the actors get them in their env
  useNatsSettings(cfg);
  // before any connection: a bad --gpus / inventory is a config error that leaves nothing open
  const gpus = await findGpus({ want: cfg.worker.gpus, declared: cfg.worker.gpuInventory });
  const joinToken =
    cfg.joinToken ??
    (cfg.joinTokenFile && !cfg.natsCreds
      ? await waitJoinTokenFile(cfg.joinTokenFile, {
          onWait: () => console.log(`flotilla worker: waiting for the join token in ${cfg.joinTokenFile}`),
        })
      : undefined);
  const { nodeId, creds, joined } = await workerCredential(cfg.natsUrl, joinToken, cfg.natsCreds, cfg.worker.nodeId, cfg.prefix);
  const log = createLogger({ role: 'worker', bindings: { node: nodeId } });
  const opts = { maxReconnectAttempts: -1, reconnectTimeWait: 500, waitOnFirstConnect: true };
  const who = `worker ${nodeId}`;
  const nc = await connectClear(natsOptions(cfg.natsUrl, creds, { ...opts, name: `flotilla-worker-${nodeId}` }), who);
  await assertServerVersion(nc);
  // Heartbeats on a connection of their own: nothing else queues in front of them.
  const heartbeatNc = await connectClear(natsOptions(cfg.natsUrl, creds, { ...opts, name: `flotilla-worker-${nodeId}-heartbeat` }), who);
  watchRefusals(nc, log, who);
  watchRefusals(heartbeatNc, log, who);
  const backend = probeBackend(REPO_ROOT);
  const agent = new Agent({
    nc,
    heartbeatNc,
    natsUrl: cfg.natsUrl,
    prefix: cfg.prefix,
    nodeId,
    slots: cfg.worker.slots,
    backend,
    gpus,
    root: REPO_ROOT,
    actorEntry: ACTOR_ENTRY,
    log,
    heartbeatMs: cfg.worker.heartbeatMs,
    warmActors: cfg.worker.warmActors,
    actorEnv: natsSettingsEnv(),
    joined,
    onUnregistrable: (line) => {
      console.error(`flotilla worker: ${line}`);
      unregistrable(line);
    },
  });
  let unregistrable: (line: string) => void = () => {};
  await agent.start();
  void agent.registered.then((i) => {
    const g = i.gpus?.length ? `, gpus ${i.gpus.length} (${i.gpu_source}: ${[...new Set(i.gpus.map((x) => x.model))].join(', ')})` : '';
    console.log(`flotilla worker: node ${i.nodeId} registered (slots ${i.slots}, backend ${i.backend}, device ${i.device}${g})`);
  });
  const done = new Promise<number>((resolve) => {
    let leaving = false;
    const leave = (sig: string) => {
      if (leaving) return;
      leaving = true;
      log.info({ signal: sig }, 'leaving');
      agent
        .leave()
        .then(() => Promise.all([nc.drain(), heartbeatNc.drain()]))
        .then(
          () => resolve(0),
          (err: unknown) => {
            log.error({ err }, 'unclean leave');
            resolve(1);
          },
        );
    };
    process.once('SIGTERM', () => leave('SIGTERM'));
    process.once('SIGINT', () => leave('SIGINT'));
    // a registration that can never succeed: leave at once, exit 1
    unregistrable = () => {
      leaving = true;
      agent
        .close()
        .catch(() => undefined)
        .then(() => Promise.all([nc.close(), heartbeatNc.close()]))
        .catch(() => undefined)
        .then(() => resolve(1));
    };
  });
  log.info(
    {
      nats: cfg.natsUrl,
      prefix: cfg.prefix,
      slots: cfg.worker.slots,
      warmActors: cfg.worker.warmActors,
      ...backend,
      gpus: gpus.gpus.length,
      gpuSource: gpus.source,
    },
    'worker agent started',
  );
  return { agent, done };
}
