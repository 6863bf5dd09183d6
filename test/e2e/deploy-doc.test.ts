/**
 * docs/deploy-cluster.md as written, on network-namespace hosts (test/kit/netns.ts): its
 * `sh run=HOSTS` blocks are extracted from the page (test/kit/doc-blocks.ts) and run, in page
 * order, on hosts of those names. Each host runs its blocks in a mount and UTS namespace of its
 * own: `hostname` is its name, `/etc/flotilla`, `/var/lib/flotilla` and `$HOME` are its own
 * dirs, the checkout is at `/opt/flotilla`, `flotilla` is on PATH. `daemon` blocks keep running;
 * `scp` lines of `run=copy` blocks are carried out by the test. Then the page's restart: each
 * server in turn is SIGKILLed (after the first job ended and sealed its object stores) and the
 * `any-server` blocks start it again and wait until it is healthy; the job block runs again and
 * its job must succeed with all three servers back.
 */
import t from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import {
  appendFileSync,
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lab, netnsUnavailable, type Host } from '../kit/netns.ts';
import { docBlocks, scpLines, type DocBlock } from '../kit/doc-blocks.ts';
import { ROOT } from '../head/helpers/procs.ts';

const PAGE = join(ROOT, 'docs', 'deploy-cluster.md');
const MOUNTS = { etc: '/etc/flotilla', var: '/var/lib/flotilla', opt: '/opt/flotilla' } as const;
const why = netnsUnavailable();

t.test(
  'docs/deploy-cluster.md runs as written on namespace hosts',
  { timeout: 900_000, skip: why ? `deploy doc test skipped: ${why}` : false },
  async (t) => {
    const blocks = docBlocks(PAGE);
    t.ok(blocks.length >= 10, `${blocks.length} runnable blocks on the page`);
    const lab = new Lab();
    t.teardown(() => lab.teardown());
    // empty mount points for each host's own dirs (bind-mounted inside its mount namespace only)
    const made: string[] = [];
    for (const d of Object.values(MOUNTS))
      if (!existsSync(d)) {
        mkdirSync(d, { recursive: true });
        made.push(d);
      }
    t.teardown(() => {
      for (const d of made.reverse()) {
        try {
          if (readdirSync(d).length === 0) rmdirSync(d);
        } catch {
          /* in use */
        }
      }
    });
    const base = mkdtempSync(join(tmpdir(), 'flotilla-doc-'));
    t.teardown(() => {
      if (t.passing()) rmSync(base, { recursive: true, force: true });
      else t.comment(`hosts' files and logs kept in ${base}`);
    });
    const bin = join(base, 'bin');
    mkdirSync(bin);
    writeFileSync(join(bin, 'flotilla'), `#!/bin/sh\nexec ${process.execPath} ${MOUNTS.opt}/bin/flotilla.mjs "$@"\n`);
    chmodSync(join(bin, 'flotilla'), 0o755);

    const labels = [...new Set(blocks.flatMap((b) => b.hosts).filter((h) => h !== 'copy' && h !== 'any-server'))];
    const servers = labels.filter((h) => /^nats\d$/.test(h));
    const hosts = new Map<string, Host>();
    const dirs = new Map<string, { etc: string; var: string; home: string }>();
    for (const l of labels) {
      hosts.set(l, lab.addHost(l));
      const d = { etc: join(base, l, 'etc'), var: join(base, l, 'var'), home: join(base, l, 'home') };
      for (const x of Object.values(d)) mkdirSync(x, { recursive: true });
      dirs.set(l, d);
    }
    // the reader's environment: none of the test runner's FLOTILLA_* settings (its credentials file above all)
    const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('FLOTILLA_')));
    const outputs: string[] = [];
    const say = (s: string) => {
      outputs.push(s);
      if (outputs.length > 400) outputs.shift();
    };

    /** Starts `script` on host `label` as the page's reader would, in a process group of its own. */
    const start = (label: string, script: string, tag: string): { p: ChildProcess; out: () => string; done: Promise<number | null> } => {
      const d = dirs.get(label)!;
      const pre = `hostname ${label} && mount --bind ${d.etc} ${MOUNTS.etc} && mount --bind ${d.var} ${MOUNTS.var} && mount --bind ${ROOT} ${MOUNTS.opt} && cd ~ && exec bash -ec "$FLOTILLA_DOC_BLOCK"`;
      const p = hosts.get(label)!.spawn('unshare', ['--mount', '--uts', '--propagation', 'private', 'bash', '-c', pre], {
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: {
          ...clean,
          PATH: `${bin}:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin`,
          HOME: d.home,
          FLOTILLA_DOC_BLOCK: script,
          FLOTILLA_LOG_LEVEL: 'warn',
        },
      });
      let out = '';
      const log = join(base, label, `${tag.replace(/\W+/g, '-')}-${Date.now()}.log`);
      const add = (b: Buffer) => {
        out += b.toString();
        try {
          appendFileSync(log, b);
        } catch {
          /* the lab is gone */
        }
        for (const l of b.toString().split('\n')) if (l.trim()) say(`[${label} ${tag}] ${l}`);
      };
      p.stdout?.on('data', add);
      p.stderr?.on('data', add);
      const done = new Promise<number | null>((r) => p.once('exit', (c) => r(c)));
      return { p, out: () => out, done };
    };
    const daemons = new Map<string, ChildProcess[]>();
    const killGroup = (p: ChildProcess) => {
      try {
        process.kill(-p.pid!, 'SIGKILL');
      } catch {
        /* gone */
      }
    };
    t.teardown(() => {
      for (const ps of daemons.values()) for (const p of ps) killGroup(p);
    });
    const run = async (b: DocBlock, on: string[] = b.hosts, limitMs = 240_000): Promise<string[]> => {
      if (b.daemon) {
        for (const h of on) {
          const s = start(h, b.script, `daemon ${b.index}`);
          daemons.set(h, [...(daemons.get(h) ?? []), s.p]);
          void s.done.then((code) => {
            if (code !== null) say(`[${h} daemon ${b.index}] exited ${code}: ${s.out().slice(-1500)}`);
          });
        }
        return [];
      }
      return Promise.all(
        on.map(async (h) => {
          const s = start(h, b.script, `block ${b.index}`);
          const timer = setTimeout(() => killGroup(s.p), limitMs);
          const code = await s.done;
          clearTimeout(timer);
          if (code !== 0)
            throw new Error(
              `block ${b.index} on ${h} exited ${code}:\n${b.script}\n--- output:\n${s.out().slice(-3000)}\n--- recent output of every host:\n${outputs.slice(-60).join('\n')}`,
            );
          return s.out();
        }),
      );
    };
    const copy = (b: DocBlock) => {
      for (const c of scpLines(b.script)) {
        const src = join(dirs.get(c.fromHost)!.home, c.from.replace(/^~\//, ''));
        const to = c.to === '' ? c.from.replace(/^.*\//, '') : c.to.replace(/^~\//, '');
        copyFileSync(src, join(dirs.get(c.toHost)!.home, to));
      }
    };
    const jobOf = (out: string) => {
      const json = out.slice(out.lastIndexOf('\n{') + 1);
      return JSON.parse(json) as { id: string; state: string; restarts: number; message?: string };
    };

    const jobBlocks = blocks.filter((b) => b.hosts.includes('admin') && /flotilla submit/.test(b.script));
    t.equal(jobBlocks.length, 1, 'one block submits a job');
    const t0 = Date.now();
    for (const b of blocks) {
      if (b.hosts.includes('any-server')) continue;
      if (b.hosts.includes('copy')) {
        copy(b);
        continue;
      }
      const out = await run(b);
      t.comment(`block ${b.index} (${b.hosts.join(',')}${b.daemon ? ', daemon' : ''}) done at +${((Date.now() - t0) / 1000).toFixed(1)} s`);
      if (b === jobBlocks[0]) {
        const j = jobOf(out[0]);
        t.equal(j.state, 'succeeded', `the page's job ${j.id} succeeded (${j.message ?? ''})`);
      }
    }
    // what went where: no signing key, revoker or CA key on a server or worker host
    for (const h of labels.filter((l) => l !== 'admin' && l !== 'head')) {
      for (const secret of ['signing.nk', 'revoker.json', 'head.creds', 'tls/ca-key.pem']) {
        t.notOk(existsSync(join(dirs.get(h)!.etc, 'nats', secret)), `${h} has no ${secret}`);
      }
    }

    const restart = blocks.filter((b) => b.hosts.includes('any-server'));
    t.ok(
      restart.some((b) => b.daemon) && restart.some((b) => !b.daemon),
      'the page shows how to start a server again and how to wait for it',
    );
    const wait = restart.filter((b) => !b.daemon);
    for (const h of servers) {
      // the page: one server at a time, the next only once every server is healthy again
      for (const b of wait) await run(b, servers);
      const [srv] = daemons.get(h) ?? [];
      t.ok(srv && srv.exitCode === null, `${h}'s server ran until now`);
      killGroup(srv);
      daemons.set(h, []);
      const k0 = Date.now();
      for (const b of restart) await run(b, [h]);
      t.comment(`${h}: SIGKILL, restarted with the page's command, healthy after ${Date.now() - k0} ms`);
    }
    const again = jobOf((await run(jobBlocks[0]))[0]);
    t.equal(again.state, 'succeeded', `after every server restarted, the page's job ${again.id} succeeded (${again.message ?? ''})`);
    for (const h of servers)
      t.ok(
        daemons.get(h)!.every((p) => p.exitCode === null && p.signalCode === null),
        `${h}'s restarted server is still running`,
      );
    if (!t.passing()) t.comment(outputs.slice(-80).join('\n'));
  },
);
