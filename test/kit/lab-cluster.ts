/**
 * The shipped NATS layout on network-namespace hosts (test/kit/netns.ts): the 3-server
 * JetStream cluster of deploy/nats/cluster/n1..n3.conf on hosts nats1..3, and leaf servers of
 * deploy/nats/leaf/host-leaf.conf on worker hosts. The configs are used as shipped except for
 * what cannot be shared between servers on one machine: `store_dir` (a temporary dir per
 * server) and `HOSTNAME` in the leaf's server_name (the host's label). Ports, hostnames, routes,
 * the JetStream domain and the leaf's remotes are the files' own (each host has its own network
 * stack, so every server keeps 4222/6222/7422). Servers start through the one launcher,
 * head/embedded-nats.ts `launch()`, prefixed with `ip netns exec`. Credentials as
 * `flotilla nats-trust` makes them: one trust dir per lab, its `auth.conf` next to each written
 * cluster config (the shipped `include "auth.conf"`), and TLS files as `flotilla certs` makes
 * them in its `tls/` (the certificate also names the hosts' bridge addresses, so the test
 * process can dial a server by IP); the configs' `/etc/flotilla/nats/` paths (certificates)
 * point into that dir, the leaf's `leaf.creds` to its own (`flotilla leaf-creds` for its host), and each server's dir gets the trust dir's
 * `auth.conf` (and the leaf's `leaf-account.conf`, `leaf-sys-account.conf`) next to its config. The leaf takes local
 * clients on 127.0.0.1 without TLS but with credentials, as the cluster does.
 */
import { readFileSync, mkdtempSync, rmSync, copyFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tcpConnect } from 'node:net';
import { freePort, launch, serverAuth, type NatsServer, type ServerAuth } from '../../head/embedded-nats.ts';
import { ensureLeafFiles, mintLeafCreds } from '../../head/auth/nats-trust.ts';
import { subjects } from '../../shared/subjects.ts';
import { DEFAULT_CERT_HOSTS, writeNatsCerts } from '../../head/auth/nats-certs.ts';
import type { Test } from 'tap';
import { ROOT, ourEntry, startProc, type Proc } from '../head/helpers/procs.ts';
import type { Lab, Host } from './netns.ts';

export const CLUSTER_HOSTS = ['nats1', 'nats2', 'nats3'] as const;
/** What a client on a cluster-less host is given: every server (names resolve in each host). */
export const CLUSTER_URLS = CLUSTER_HOSTS.map((h) => `nats://${h}:4222`).join(',');

function tcpOpen(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = tcpConnect(port, host);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => {
      s.destroy();
      resolve(false);
    });
  });
}

function shipped(rel: string): string {
  return readFileSync(join(ROOT, rel), 'utf8');
}

function withStore(conf: string, storeDir: string): string {
  const out = conf.replace(/store_dir:\s*"[^"]*"/, `store_dir: "${storeDir}"`);
  if (out === conf) throw new Error('shipped config has no store_dir to rewrite');
  // the full resolver's directory (account JWT updates) is per server too
  return out.replace(/(resolver:\s*\{[^}]*dir:\s*)"[^"]*"/, `$1"${storeDir}/jwt"`);
}

/** The shipped files' trust paths (/etc/flotilla/nats/...) moved into the lab's trust dir. */
function withTrustDir(conf: string, dir: string): string {
  return conf.replaceAll('/etc/flotilla/nats/', `${dir}/`);
}

export interface LabCluster {
  servers: Map<string, NatsServer>;
  hosts: Host[];
  /** the lab's trust chain: heads, workers and leaves get their credentials from it */
  auth: ServerAuth;
  /** the CA of the servers' TLS certificates (what clients get as FLOTILLA_NATS_CA) */
  ca: string;
  stop(): Promise<void>;
}

/** The trust dir of a lab (auth.conf, head.creds, signing.nk, revoker.json, leaf-sys.creds, leaf-account.conf, leaf-sys-account.conf), as `flotilla nats-trust` writes it. */
export async function labAuth(): Promise<ServerAuth> {
  const dir = mkdtempSync(join(tmpdir(), 'flotilla-lab-auth-'));
  const auth = await serverAuth(dir);
  await ensureLeafFiles(dir, auth.trust);
  return auth;
}

/** Hosts nats1..3 running the shipped cluster configs. */
export async function startLabCluster(lab: Lab, auth?: ServerAuth, opts: { mgmt?: string[] } = {}): Promise<LabCluster> {
  const trust = auth ?? (await labAuth());
  // `mgmt`: hosts that also get a management link (a head there stays reachable while it is cut off)
  const hosts = CLUSTER_HOSTS.map((h) => lab.addHost(h, { mgmt: opts.mgmt?.includes(h) }));
  const certs = writeNatsCerts(join(trust.dir, 'tls'), [...DEFAULT_CERT_HOSTS, ...hosts.map((h) => h.ip)]);
  const servers = new Map<string, NatsServer>();
  await Promise.all(
    hosts.map(async (h, i) => {
      const storeDir = mkdtempSync(join(tmpdir(), `flotilla-lab-${h.label}-`));
      const conf = withTrustDir(withStore(shipped(`deploy/nats/cluster/n${i + 1}.conf`), storeDir), trust.dir);
      copyFileSync(join(trust.dir, 'auth.conf'), join(storeDir, 'auth.conf'));
      servers.set(
        h.label,
        await launch(conf, h.ip, 4222, storeDir, true, {
          prefix: ['ip', 'netns', 'exec', h.ns],
          auth: trust,
          probe: () => tcpOpen(h.ip, 4222),
        }),
      );
    }),
  );
  return {
    servers,
    hosts,
    auth: trust,
    ca: certs.ca,
    async stop() {
      await Promise.all([...servers.values()].map((s) => s.stop()));
      rmSync(trust.dir, { recursive: true, force: true });
    },
  };
}

/**
 * The shipped cluster configs on this one machine, no namespaces: what cannot be shared between
 * three servers on one host moves (each server's ports, from 4222/6222/7422 to free ones on
 * 127.0.0.1; the routes' `nats1..3` hostnames to 127.0.0.1 with those ports; `http` off;
 * `store_dir` and the resolver's dir per server); the rest (auth include, TLS on clients, routes
 * and leafs, the domain, limits) is the files' own.
 */
export async function startShippedCluster(auth?: ServerAuth): Promise<LabCluster & { urls: string[] }> {
  const trust = auth ?? (await labAuth());
  const certs = writeNatsCerts(join(trust.dir, 'tls'), [...DEFAULT_CERT_HOSTS]);
  const ports = await Promise.all(
    [0, 1, 2].map(async () => ({ client: await freePort(), route: await freePort(), leaf: await freePort() })),
  );
  const servers = new Map<string, NatsServer>();
  try {
    for (const [i, h] of CLUSTER_HOSTS.entries()) {
      const storeDir = mkdtempSync(join(tmpdir(), `flotilla-shipped-${h}-`));
      let conf = withTrustDir(withStore(shipped(`deploy/nats/cluster/n${i + 1}.conf`), storeDir), trust.dir);
      const moved = conf
        .replace(/^listen:\s*0\.0\.0\.0:4222/m, `listen: 127.0.0.1:${ports[i].client}`)
        .replace(/(cluster\s*\{[^}]*?listen:\s*)0\.0\.0\.0:6222/, `$1127.0.0.1:${ports[i].route}`)
        .replace(/(leafnodes\s*\{[^}]*?listen:\s*)0\.0\.0\.0:7422/, `$1127.0.0.1:${ports[i].leaf}`)
        .replace(/^http:.*$/m, '');
      conf = CLUSTER_HOSTS.reduce(
        (c, host, j) => c.replace(`nats-route://${host}:6222`, `nats-route://127.0.0.1:${ports[j].route}`),
        moved,
      );
      if (/0\.0\.0\.0|nats[123]:6222/.test(conf))
        throw new Error(`the shipped n${i + 1}.conf changed shape: a listener or route was not moved`);
      copyFileSync(join(trust.dir, 'auth.conf'), join(storeDir, 'auth.conf'));
      servers.set(h, await launch(conf, '127.0.0.1', ports[i].client, storeDir, true, { auth: trust }));
    }
  } catch (e) {
    await Promise.all([...servers.values()].map((s) => s.stop()));
    throw e;
  }
  return {
    servers,
    hosts: [],
    auth: trust,
    ca: certs.ca,
    urls: [...servers.values()].map((s) => s.url),
    async stop() {
      await Promise.all([...servers.values()].map((s) => s.stop()));
      rmSync(trust.dir, { recursive: true, force: true });
    },
  };
}

/**
 * The shipped leaf config on `host` (its actors use nats://127.0.0.1:4222 there), with the host's
 * own leaf.creds (`flotilla leaf-creds`: bound to `prefix` and the host's node ids, by default its label).
 */
export async function startLeaf(host: Host, auth: ServerAuth, prefix: string, nodes: string[] = [host.label]): Promise<NatsServer> {
  const storeDir = mkdtempSync(join(tmpdir(), `flotilla-leaf-${host.label}-`));
  writeFileSync(join(storeDir, 'leaf.creds'), await mintLeafCreds(auth.trust, subjects(prefix), nodes), { mode: 0o600 });
  const conf = withTrustDir(
    shipped('deploy/nats/leaf/host-leaf.conf')
      .replace(/HOSTNAME/g, host.label)
      .replaceAll('/etc/flotilla/nats/leaf.creds', join(storeDir, 'leaf.creds')),
    auth.dir,
  );
  for (const f of ['auth.conf', 'leaf-account.conf', 'leaf-sys-account.conf']) copyFileSync(join(auth.dir, f), join(storeDir, f));
  try {
    return await launch(conf, '127.0.0.1', 4222, storeDir, true, {
      prefix: ['ip', 'netns', 'exec', host.ns],
      probe: async () => host.run('bash', ['-c', 'exec 3<>/dev/tcp/127.0.0.1/4222']) === 0,
    });
  } catch (e) {
    rmSync(storeDir, { recursive: true, force: true });
    throw e;
  }
}

/**
 * A launcher of our processes (`node ENTRY ARGS`, compiled when dist/ is current) inside a lab host, with the test's
 * FLOTILLA_PREFIX and, for a client given the cluster's URLs (whose listeners require TLS, as
 * shipped), the cluster's CA; a leaf's loopback listener needs none.
 */
export function hostLauncher(
  t: Test,
  cluster: LabCluster,
  prefix: string,
): (h: Host, args: string[], env: Record<string, string>, label: string) => Proc {
  return (h, args, env, label) =>
    startProc(
      t,
      // an entry of ours (a .ts path first) starts as production does; anything else (node flags, -e) through tsx
      args[0]?.endsWith('.ts') ? ourEntry(args[0], ...args.slice(1)) : ['--import', 'tsx', ...args],
      {
        FLOTILLA_PREFIX: prefix,
        ...(env.FLOTILLA_NATS_URL === CLUSTER_URLS ? { FLOTILLA_NATS_CA: cluster.ca } : {}),
        ...env,
      },
      label,
      ['ip', 'netns', 'exec', h.ns],
    );
}
