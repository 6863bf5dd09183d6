/**
 * Launches real `nats-server` processes (JetStream on): the embedded server of `flotilla up`,
 * and the one launcher the test kit reuses. Each server gets a generated config file; a store
 * dir it created itself is removed by stop().
 * Over 300 lines: launching, config writing and readiness probes of one nats-server process, used by `flotilla up` and the test kit.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { NodeConnectionOptions } from '@nats-io/transport-node';
import { natsOptions } from '../shared/nats-connect.ts';
import { jsDomain } from '../shared/js-domain.ts';
import { checkServerVersion, parseVersion, TESTED_NATS_SERVER } from '../shared/nats-version.ts';
import { joinTokenOf } from '../shared/join-token.ts';
import { subjects } from '../shared/subjects.ts';
import { ensureTrustDir, mintCreds, serverAuthConfig, type NatsTrust } from './auth/nats-trust.ts';
import { workerPermissions, type Permissions } from './auth/nats-permissions.ts';

export interface NatsServer {
  /** client URL, e.g. nats://127.0.0.1:4222 */
  url: string;
  port: number;
  proc: ChildProcess;
  storeDir: string;
  /** kills the process (SIGTERM, then SIGKILL after 3 s) and removes a store dir it created */
  stop(): Promise<void>;
  /** SIGKILL without cleanup of the store (for restart tests) */
  kill(): Promise<void>;
  /** starts the killed server again from the same config (ports, store) and waits until it listens */
  restart(): Promise<void>;
  /** the trust chain the server requires (absent for `auth: false`) */
  auth?: ServerAuth;
  /** connect() options as the head (every permission), or as `creds` when given */
  options(creds?: string): NodeConnectionOptions;
}

/** The credentials of an authenticated server (or cluster). */
export interface ServerAuth {
  trust: NatsTrust;
  /** the dir holding the trust files (trust-dir layout of head/auth/nats-trust.ts) */
  dir: string;
  /** creds text of a user with every permission (the head) */
  headCreds: string;
  /** the account signing seed (what a head mints worker and actor creds with) */
  signingKey: string;
  /** revoker.json's text (absent for a trust dir made before revocation existed) */
  revoker?: string;
  /** what startHead needs to connect as the head, mint credentials and revoke them */
  headOptions: { natsCreds: string; natsSigningKey: string; natsRevoker?: string };
  /** a join token for worker `nodeId` under `prefix` */
  joinToken(prefix: string, nodeId: string): Promise<string>;
  /** mints creds text for a user with these permissions */
  mint(name: string, perms: Permissions): Promise<string>;
}

/**
 * The trust chain in `dir` (created when missing) with helpers to use it; its
 * `serverAuthConfig(auth.trust)` lines go into every server's config (launch() of a kit).
 */
export async function serverAuth(dir: string): Promise<ServerAuth> {
  const trust = await ensureTrustDir(dir);
  const headCreds = readFileSync(join(dir, 'head.creds'), 'utf8');
  const signingKey = new TextDecoder().decode(trust.signer.getSeed());
  const revoker = trust.revoker ? JSON.stringify(trust.revoker) : undefined;
  return {
    trust,
    dir,
    headCreds,
    signingKey,
    ...(revoker ? { revoker } : {}),
    headOptions: { natsCreds: headCreds, natsSigningKey: signingKey, ...(revoker ? { natsRevoker: revoker } : {}) },
    mint: (name, perms) => mintCreds(trust, name, perms),
    async joinToken(prefix, nodeId) {
      return joinTokenOf(await mintCreds(trust, `worker:${nodeId}:kit`, workerPermissions(subjects(prefix), nodeId)));
    },
  };
}

export interface StartOptions {
  /** enable JetStream (default true) */
  jetstream?: boolean;
  /** max_payload in bytes (server default 1 MiB) */
  maxPayload?: number;
  /** extra config text appended to the generated config */
  extraConfig?: string;
  /** reuse (or create and keep) this store dir; default a fresh temporary dir removed by stop() */
  storeDir?: string;
  /** client port (default: a free port) */
  port?: number;
  /** listen address (default 127.0.0.1) */
  host?: string;
  /**
   * require credentials (default true: anonymous clients are refused). The trust chain lives in
   * `authDir` (created when missing: `flotilla up` keeps its own), default `<storeDir>/auth`.
   */
  auth?: boolean;
  authDir?: string;
}

/** How a server process is started: a command prefix (e.g. `ip netns exec NAME`) and where to find its port. */
export interface LaunchWrap {
  /** prepended to the nats-server command line */
  prefix?: string[];
  /** checks that the client port listens (default: a TCP connect to host:port from here) */
  probe?: () => Promise<boolean>;
  /** the trust chain in `conf` (the returned server's options() then connect as its head) */
  auth?: ServerAuth;
}

let checked = false;
/** Throws a clear error when nats-server is not on PATH. */
export function natsServerBinary(): string {
  const bin = process.env.NATS_SERVER_BIN ?? 'nats-server';
  if (!checked) {
    let out: string;
    try {
      out = execFileSync(bin, ['--version'], { stdio: 'pipe', encoding: 'utf8' });
    } catch {
      throw new Error(
        `nats-server not found (tried '${bin}'). Install it: bash deploy/install-nats.sh (nats-server ${TESTED_NATS_SERVER}), or set NATS_SERVER_BIN.`,
      );
    }
    // refused before it starts: an old server would run, and fail later (see shared/nats-version.ts)
    checkServerVersion(parseVersion(out)?.join('.'), bin);
    checked = true;
  }
  return bin;
}

/** A TCP port that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

function waitForPort(host: string, port: number, proc: ChildProcess, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const target = host === '0.0.0.0' ? '127.0.0.1' : host;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      if (proc.exitCode !== null) return reject(new Error(`nats-server exited with code ${proc.exitCode} before listening`));
      const sock = tcpConnect(port, target);
      sock.once('connect', () => {
        sock.destroy();
        resolve();
      });
      sock.once('error', () => {
        sock.destroy();
        if (Date.now() > deadline) reject(new Error(`nats-server did not listen on ${port} within ${timeoutMs} ms`));
        else setTimeout(attempt, 50);
      });
    };
    attempt();
  });
}

/** Starts nats-server with `conf` (written into storeDir) and waits until it listens. */
export function launch(
  conf: string,
  host: string,
  port: number,
  storeDir: string,
  ownsStore: boolean,
  wrap: LaunchWrap = {},
): Promise<NatsServer> {
  const bin = natsServerBinary();
  const confFile = join(storeDir, `nats-${port}.conf`);
  writeFileSync(confFile, conf);
  let stderr = '';
  let proc!: ChildProcess;
  let exited!: Promise<void>;
  const start = () => {
    const argv = [...(wrap.prefix ?? []), bin, '-c', confFile];
    proc = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
    proc.stderr?.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
    });
    exited = new Promise<void>((r) => proc.once('exit', () => r()));
    server.proc = proc;
  };
  const alive = () => proc.exitCode === null && proc.signalCode === null;
  const kill = async () => {
    if (alive()) {
      proc.kill('SIGKILL');
      await exited;
    }
  };
  const ready = () =>
    (wrap.probe ? waitFor(wrap.probe, proc) : waitForPort(host, port, proc)).catch(async (err: Error) => {
      await kill();
      throw new Error(`${err.message}\n${stderr}`);
    });
  const server: NatsServer = {
    url: `nats://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`,
    port,
    proc: undefined as unknown as ChildProcess,
    storeDir,
    kill,
    auth: wrap.auth,
    options(creds) {
      return natsOptions(server.url, creds ?? wrap.auth?.headCreds);
    },
    async restart() {
      await kill();
      start();
      await ready();
    },
    async stop() {
      if (alive()) {
        proc.kill('SIGTERM');
        const t = setTimeout(() => proc.kill('SIGKILL'), 3000);
        await exited;
        clearTimeout(t);
      }
      if (ownsStore) rmSync(storeDir, { recursive: true, force: true });
    },
  };
  start();
  return ready().then(() => server);
}

function waitFor(probe: () => Promise<boolean>, proc: ChildProcess, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      if (proc.exitCode !== null) return reject(new Error(`nats-server exited with code ${proc.exitCode} before listening`));
      void probe().then((ok) => {
        if (ok) resolve();
        else if (Date.now() > deadline) reject(new Error(`nats-server did not listen within ${timeoutMs} ms`));
        else setTimeout(attempt, 50);
      });
    };
    attempt();
  });
}

/**
 * The JetStream block of a server Flotilla starts: in this process's domain (js-domain.ts,
 * `flotilla` unless FLOTILLA_JS_DOMAIN says otherwise), the one its clients ask on.
 */
function jetstreamBlock(storeDir: string): string {
  const domain = jsDomain();
  return `jetstream { store_dir: "${storeDir}"${domain ? `, domain: ${domain}` : ''} }`;
}

/**
 * A client's CONNECT carries its user JWT, and an actor's JWT lists its job's subjects one by one
 * (head/auth/nats-permissions.ts): 3978 bytes for an 11-character prefix and a 15-character job
 * id in the `flotilla` domain, past nats-server's default 4 KiB control line, which the server
 * answers by letting the connect time out. Every server Flotilla starts or ships allows 16 KiB.
 */
export const MAX_CONTROL_LINE = '16KB';

/** Starts one nats-server (JetStream on by default) on a free port. */
export async function startNatsServer(opts: StartOptions = {}): Promise<NatsServer> {
  const host = opts.host ?? '127.0.0.1';
  const port = opts.port ?? (await freePort());
  const ownsStore = !opts.storeDir;
  const storeDir = opts.storeDir ?? mkdtempSync(join(tmpdir(), 'flotilla-nats-'));
  if (opts.storeDir) mkdirSync(storeDir, { recursive: true });
  const auth = opts.auth === false ? undefined : await serverAuth(opts.authDir ?? join(storeDir, 'auth'));
  const lines = [
    `listen: ${host}:${port}`,
    `max_control_line: ${MAX_CONTROL_LINE}`,
    opts.maxPayload ? `max_payload: ${opts.maxPayload}` : '',
    opts.jetstream === false ? '' : jetstreamBlock(storeDir),
    auth ? serverAuthConfig(auth.trust, join(storeDir, 'jwt')) : '',
    opts.extraConfig ?? '',
  ];
  return launch(lines.join('\n'), host, port, storeDir, ownsStore, { auth });
}

export interface NatsCluster {
  servers: NatsServer[];
  /** all client URLs, for a client that fails over */
  urls: string[];
  auth?: ServerAuth;
  /** connect() options over every URL, as the head or as `creds` */
  options(creds?: string): NodeConnectionOptions;
  stop(): Promise<void>;
}

/** Starts a JetStream cluster of `size` servers (default 3) on free ports; one trust chain for all (unless `auth: false`). */
export async function startNatsCluster(size = 3, opts: { auth?: boolean } = {}): Promise<NatsCluster> {
  const clientPorts: number[] = [];
  const routePorts: number[] = [];
  for (let i = 0; i < size; i++) {
    clientPorts.push(await freePort());
    routePorts.push(await freePort());
  }
  const name = `flotilla-${randomBytes(3).toString('hex')}`;
  const routes = routePorts.map((p) => `nats-route://127.0.0.1:${p}`).join(', ');
  const servers: NatsServer[] = [];
  const authDir = mkdtempSync(join(tmpdir(), 'flotilla-natsauth-'));
  const auth = opts.auth === false ? undefined : await serverAuth(authDir);
  try {
    for (let i = 0; i < size; i++) {
      const storeDir = mkdtempSync(join(tmpdir(), 'flotilla-natsc-'));
      const conf = [
        `server_name: n${i}`,
        `listen: 127.0.0.1:${clientPorts[i]}`,
        `max_control_line: ${MAX_CONTROL_LINE}`,
        jetstreamBlock(storeDir),
        `cluster { name: ${name}, listen: 127.0.0.1:${routePorts[i]}, routes: [${routes}] }`,
        auth ? serverAuthConfig(auth.trust, join(storeDir, 'jwt')) : '',
      ].join('\n');
      servers.push(await launch(conf, '127.0.0.1', clientPorts[i], storeDir, true, { auth }));
    }
  } catch (e) {
    await Promise.all(servers.map((s) => s.stop()));
    rmSync(authDir, { recursive: true, force: true });
    throw e;
  }
  const urls = servers.map((s) => s.url);
  return {
    servers,
    urls,
    auth,
    options(creds) {
      return natsOptions(urls, creds ?? auth?.headCreds);
    },
    async stop() {
      await Promise.all(servers.map((s) => s.stop()));
      rmSync(authDir, { recursive: true, force: true });
    },
  };
}
