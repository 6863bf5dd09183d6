/**
 * Multi-host test kit: network-namespace "hosts" on one Linux machine, each with its own
 * network stack, joined by a bridge through veth pairs (10.R.R.0/24, R random), with
 * /etc/netns/NAME/hosts naming them (nats1..3, ...). Faults are real network faults:
 * a partition takes a host's bridge-side veth down (`ip link set down`), a slow link is a
 * token bucket (`tc qdisc ... tbf`) on both ends of a host's veth. A host may get a second,
 * management link straight to the test process (REST stays reachable while the host is cut
 * off from the bridge). Every name carries the lab's random id after the kit's prefix `fl`
 * (namespaces `fl<id>-<label>`, bridge `flb<id>`, veths `flv<id>…`/`flm<id>…`); teardown() kills
 * what the lab started and deletes every namespace, veth and the bridge; it runs on test failure
 * too when registered with t.teardown. A process that ends without it still cleans up: on
 * normal exit, an uncaught exception (both: the 'exit' event) and SIGTERM/SIGINT/SIGHUP (then
 * the signal is raised again) every live lab of the process is torn down synchronously. What a
 * SIGKILLed process left is swept when the next lab starts (`sweepStale`): everything of the
 * kit's prefix whose lab has no live owner (a marker in OWNER_DIR, written before anything is
 * made, names the owner's pid).
 */
import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';

export interface Host {
  /** label given by the test: nats1, worker-a, head, ... (also its name in every /etc/hosts) */
  label: string;
  /** network namespace name */
  ns: string;
  /** address on the bridge */
  ip: string;
  /** address of the management link, reachable from the test process (when asked for) */
  mgmtIp?: string;
  /** bridge-side veth (what a partition takes down) */
  brVeth: string;
  /** namespace-side veth */
  nsVeth: string;
  /** starts a process inside the host; the lab kills it at teardown */
  spawn(cmd: string, args: string[], opts?: SpawnOptions): ChildProcess;
  /** runs a command inside the host and returns its exit status */
  run(cmd: string, args: string[]): number;
}

/** Why namespaces cannot be used here, or null when they can. */
export function netnsUnavailable(): string | null {
  if (process.platform !== 'linux') return 'network namespaces need Linux';
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'network namespaces need root';
  const probe = `flprobe${randomBytes(3).toString('hex')}`;
  const add = spawnSync('ip', ['netns', 'add', probe], { encoding: 'utf8' });
  if (add.error) return `'ip' is not available: ${add.error.message}`;
  if (add.status !== 0) return `cannot create a network namespace: ${add.stderr.trim()}`;
  spawnSync('ip', ['netns', 'del', probe]);
  const tc = spawnSync('tc', ['-V'], { encoding: 'utf8' });
  if (tc.error) return `'tc' is not available: ${tc.error.message}`;
  return null;
}

function sh(cmd: string, args: string[], allowFail = false): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (!allowFail && (r.error || r.status !== 0)) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.error?.message ?? r.stderr.trim()}`);
  return r.stdout ?? '';
}

export class Lab {
  readonly id = randomBytes(2).toString('hex');
  readonly bridge = `flb${this.id}`;
  /** 10.a.b.0/24 for the bridge */
  readonly subnet: string;
  readonly hosts = new Map<string, Host>();
  readonly #procs = new Set<ChildProcess>();
  #n = 0;
  #torn = false;

  constructor() {
    sweepStale();
    const b = randomBytes(2);
    this.subnet = `10.${100 + (b[0] % 100)}.${b[1]}`;
    // the marker first: a sweep of another process never takes a live lab's half-made parts
    mkdirSync(OWNER_DIR, { recursive: true });
    writeFileSync(join(OWNER_DIR, `lab-${this.id}`), `${process.pid} ${this.bridge}\n`);
    LIVE.add(this);
    installExitCleanup();
    sh('ip', ['link', 'add', this.bridge, 'type', 'bridge']);
    sh('ip', ['addr', 'add', `${this.subnet}.1/24`, 'dev', this.bridge]);
    sh('ip', ['link', 'set', this.bridge, 'up']);
  }

  /** Adds a host on the bridge (and a management link when `mgmt`). */
  addHost(label: string, opts: { mgmt?: boolean } = {}): Host {
    const i = ++this.#n;
    const ns = `fl${this.id}-${label}`;
    const brVeth = `flv${this.id}b${i}`;
    const nsVeth = `flv${this.id}n${i}`;
    const ip = `${this.subnet}.${10 + i}`;
    sh('ip', ['netns', 'add', ns]);
    sh('ip', ['link', 'add', brVeth, 'type', 'veth', 'peer', 'name', nsVeth]);
    sh('ip', ['link', 'set', nsVeth, 'netns', ns]);
    sh('ip', ['link', 'set', brVeth, 'master', this.bridge]);
    sh('ip', ['link', 'set', brVeth, 'up']);
    const inNs = (...a: string[]) => sh('ip', ['netns', 'exec', ns, ...a]);
    inNs('ip', 'link', 'set', 'lo', 'up');
    inNs('ip', 'addr', 'add', `${ip}/24`, 'dev', nsVeth);
    inNs('ip', 'link', 'set', nsVeth, 'up');
    let mgmtIp: string | undefined;
    if (opts.mgmt) {
      // a /30 of its own between the test process and the host, off the bridge
      const base = `169.254.${Number.parseInt(this.id, 16) % 250}`;
      const hostSide = `flm${this.id}n${i}`;
      const rootSide = `flm${this.id}r${i}`;
      sh('ip', ['link', 'add', rootSide, 'type', 'veth', 'peer', 'name', hostSide]);
      sh('ip', ['link', 'set', hostSide, 'netns', ns]);
      sh('ip', ['addr', 'add', `${base}.${i * 4 + 1}/30`, 'dev', rootSide]);
      sh('ip', ['link', 'set', rootSide, 'up']);
      inNs('ip', 'addr', 'add', `${base}.${i * 4 + 2}/30`, 'dev', hostSide);
      inNs('ip', 'link', 'set', hostSide, 'up');
      mgmtIp = `${base}.${i * 4 + 2}`;
    }
    const host: Host = {
      label,
      ns,
      ip,
      mgmtIp,
      brVeth,
      nsVeth,
      spawn: (cmd, args, o = {}) => {
        const p = spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'], ...o });
        this.#procs.add(p);
        p.once('exit', () => this.#procs.delete(p));
        return p;
      },
      run: (cmd, args) => spawnSync('ip', ['netns', 'exec', ns, cmd, ...args]).status ?? -1,
    };
    this.hosts.set(label, host);
    this.#writeHosts();
    return host;
  }

  host(label: string): Host {
    const h = this.hosts.get(label);
    if (!h) throw new Error(`no host '${label}' in the lab`);
    return h;
  }

  /** Cuts a host off the bridge (its management link stays up). */
  partition(label: string): void {
    sh('ip', ['link', 'set', this.host(label).brVeth, 'down']);
  }
  heal(label: string): void {
    sh('ip', ['link', 'set', this.host(label).brVeth, 'up']);
  }

  /** Limits a host's link to `mbit` Mbit/s each way (tc tbf on both veth ends). */
  limit(label: string, mbit: number): void {
    const h = this.host(label);
    const tbf = ['root', 'tbf', 'rate', `${mbit}mbit`, 'burst', '32kbit', 'latency', '400ms'];
    sh('tc', ['qdisc', 'replace', 'dev', h.brVeth, ...tbf]);
    sh('ip', ['netns', 'exec', h.ns, 'tc', 'qdisc', 'replace', 'dev', h.nsVeth, ...tbf]);
  }

  /** Lifts a `limit` (removes the tbf qdiscs on both veth ends). */
  unlimit(label: string): void {
    const h = this.host(label);
    sh('tc', ['qdisc', 'del', 'dev', h.brVeth, 'root']);
    sh('ip', ['netns', 'exec', h.ns, 'tc', 'qdisc', 'del', 'dev', h.nsVeth, 'root']);
  }

  /** Kills every process the lab started, then deletes namespaces, veths and the bridge. Idempotent. */
  async teardown(): Promise<void> {
    if (this.#torn) return;
    const procs = [...this.#procs];
    await Promise.all(
      procs.map(
        (p) =>
          new Promise<void>((r) => {
            if (p.exitCode !== null || p.signalCode !== null) return r();
            p.once('exit', () => r());
            p.kill('SIGKILL');
            setTimeout(r, 3000);
          }),
      ),
    );
    this.teardownSync();
  }

  /** teardown() without waiting for the processes to exit (SIGKILL is sent): for exit and signal handlers. Idempotent. */
  teardownSync(): void {
    if (this.#torn) return;
    this.#torn = true;
    LIVE.delete(this);
    for (const p of this.#procs) {
      try {
        p.kill('SIGKILL');
      } catch {
        /* gone */
      }
    }
    for (const h of this.hosts.values()) {
      // anything left in the namespace (actors forked by an agent) dies with it
      const pids = sh('ip', ['netns', 'pids', h.ns], true)
        .split('\n')
        .map((x) => Number(x))
        .filter((x) => x > 0);
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      sh('ip', ['link', 'del', h.brVeth], true);
      sh('ip', ['netns', 'del', h.ns], true);
      rmSync(`/etc/netns/${h.ns}`, { recursive: true, force: true });
      rmSync(join(OWNER_DIR, h.ns), { force: true });
    }
    for (const l of sh('ip', ['-o', 'link', 'show'], true).split('\n')) {
      const m = new RegExp(`^\\d+: (flm${this.id}r\\d+)@`).exec(l);
      if (m) sh('ip', ['link', 'del', m[1]], true);
    }
    sh('ip', ['link', 'del', this.bridge], true);
    rmSync(join(OWNER_DIR, `lab-${this.id}`), { force: true });
  }

  #writeHosts(): void {
    const lines = ['127.0.0.1 localhost', ...[...this.hosts.values()].map((h) => `${h.ip} ${h.label}`)].join('\n') + '\n';
    for (const h of this.hosts.values()) {
      mkdirSync(`/etc/netns/${h.ns}`, { recursive: true });
      writeFileSync(`/etc/netns/${h.ns}/hosts`, lines);
    }
  }
}

/**
 * One marker per lab, `lab-<id>`: the pid that made it and its bridge (not in /etc/netns/NS:
 * `ip netns exec` bind-mounts every file there over /etc). Older kits wrote one per namespace,
 * named after it, with the same content; both are read.
 */
const OWNER_DIR = '/run/flotilla-labs';
/** The kit's names: namespace `fl<id>-<label>`, bridge `flb<id>`, veths `flv<id>[bn]<i>`, management links `flm<id>[nr]<i>`. */
const NS_RE = /^fl([0-9a-f]{4})-/;
const LINK_RE = /^\d+: (flb([0-9a-f]{4})|fl[vm]([0-9a-f]{4})[bnr]\d+)[@:]/;

/** Labs of this process not torn down yet (the exit and signal handlers tear them down). */
const LIVE = new Set<Lab>();
let cleanupInstalled = false;

/**
 * Tears every live lab down when the process ends without teardown(): on exit (normal, or an
 * uncaught exception) and on SIGTERM, SIGINT or SIGHUP, after which the signal is raised again
 * so the process ends as it would have (a listener this adds would otherwise keep it alive).
 */
function installExitCleanup(): void {
  if (cleanupInstalled) return;
  cleanupInstalled = true;
  const all = () => {
    for (const lab of [...LIVE]) {
      try {
        lab.teardownSync();
      } catch {
        /* the rest still go */
      }
    }
  };
  process.on('exit', all);
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    const onSignal = () => {
      all();
      process.removeListener(sig, onSignal);
      // other listeners (tap's) may keep the process up: end it as the signal would have
      setTimeout(() => process.exit(128 + (sig === 'SIGHUP' ? 1 : sig === 'SIGINT' ? 2 : 15)), 2000).unref();
      process.kill(process.pid, sig);
    };
    process.on(sig, onSignal);
  }
}

function alive(pid: number): boolean {
  if (!(pid > 0)) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Lab ids whose marker names a live pid, and ids with any marker at all. */
function owners(): { live: Set<string>; marked: Set<string>; markers: Map<string, string[]> } {
  const live = new Set<string>();
  const marked = new Set<string>();
  const markers = new Map<string, string[]>();
  if (!existsSync(OWNER_DIR)) return { live, marked, markers };
  for (const f of readdirSync(OWNER_DIR)) {
    const id = /^lab-([0-9a-f]{4})$/.exec(f)?.[1] ?? NS_RE.exec(f)?.[1];
    if (!id) continue;
    let pid = 0;
    try {
      pid = Number(readFileSync(join(OWNER_DIR, f), 'utf8').trim().split(' ')[0]);
    } catch {
      /* removed meanwhile */
    }
    marked.add(id);
    markers.set(id, [...(markers.get(id) ?? []), f]);
    if (alive(pid)) live.add(id);
  }
  return { live, marked, markers };
}

/** The kit's namespaces and links now present, by lab id. */
function present(): Map<string, { ns: string[]; links: string[] }> {
  const out = new Map<string, { ns: string[]; links: string[] }>();
  const at = (id: string) => {
    let e = out.get(id);
    if (!e) out.set(id, (e = { ns: [], links: [] }));
    return e;
  };
  for (const l of sh('ip', ['netns', 'list'], true).split('\n')) {
    const ns = l.trim().split(/\s/)[0] ?? '';
    const id = NS_RE.exec(ns)?.[1];
    if (id) at(id).ns.push(ns);
  }
  for (const l of sh('ip', ['-o', 'link', 'show'], true).split('\n')) {
    const m = LINK_RE.exec(l);
    if (m) at(m[2] ?? m[3] ?? '').links.push(m[1] ?? '');
  }
  return out;
}

function removeLab(parts: { ns: string[]; links: string[] }, markerFiles: string[]): void {
  for (const ns of parts.ns) {
    for (const p of sh('ip', ['netns', 'pids', ns], true)
      .split('\n')
      .map(Number)
      .filter((x) => x > 0)) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    sh('ip', ['netns', 'del', ns], true);
    rmSync(`/etc/netns/${ns}`, { recursive: true, force: true });
  }
  // veths whose peer sat in a deleted namespace are gone with it; the rest (and the bridge) here
  for (const l of parts.links) sh('ip', ['link', 'del', l], true);
  for (const f of markerFiles) rmSync(join(OWNER_DIR, f), { force: true });
}

/**
 * Deletes what labs of dead processes left (a SIGKILLed test runner: no handler ran): every
 * namespace, bridge and veth of the kit's prefix whose lab has no marker with a live pid, with
 * their processes, /etc/netns dirs and markers. Parts with no marker at all may be a lab of an
 * older kit still being made (it wrote its marker after its bridge): they are taken only if
 * they are still unmarked 1.5 s later. Returns the lab ids it removed.
 */
export function sweepStale(): string[] {
  const removed: string[] = [];
  let o = owners();
  const unmarked: string[] = [];
  for (const [id, parts] of present()) {
    if (o.live.has(id)) continue;
    if (!o.marked.has(id)) {
      unmarked.push(id);
      continue;
    }
    removeLab(parts, o.markers.get(id) ?? []);
    removed.push(id);
  }
  // markers of dead owners whose parts are all gone already
  for (const [id, files] of o.markers)
    if (!o.live.has(id) && !removed.includes(id)) for (const f of files) rmSync(join(OWNER_DIR, f), { force: true });
  if (unmarked.length) {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1500);
    o = owners();
    const now = present();
    for (const id of unmarked) {
      const parts = now.get(id);
      if (!parts || o.marked.has(id)) continue;
      removeLab(parts, []);
      removed.push(id);
    }
  }
  return removed;
}
