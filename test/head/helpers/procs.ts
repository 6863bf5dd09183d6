/**
 * Real processes for end-to-end tests: worker agents (`node --import tsx worker/agent/main.ts`),
 * heads (`node --import tsx head/main.ts`) and the CLI (`bin/flotilla.mjs`). Every process
 * started is killed at teardown; output is kept (last 20 kB) for failure messages.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { tmpdir } from 'node:os';
import { appendFileSync } from 'node:fs';
import type { Test } from 'tap';
import type { ServerAuth } from '../../../head/embedded-nats.ts';
import { nodeArgs } from '../../../shared/run-entry.ts';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** `node` arguments that start one of our entries (a path from the repository root) as production does: compiled when dist/ is current. */
export const ourEntry = (entry: string, ...args: string[]): string[] => [...nodeArgs(join(ROOT, entry)), ...args];

// Heads started here write their first admin token to a credentials file of this test process
// (never the user's ~/.flotilla), which the CLI and HeadClient of the test read by default.
process.env.FLOTILLA_CREDENTIALS ??= join(tmpdir(), `flotilla-test-credentials-${process.pid}.json`);

export interface Proc {
  proc: ChildProcess;
  pid: number;
  /** stdout + stderr so far (tail) */
  output(): string;
  /** resolves with the first stdout line matching `re` (already printed or still to come) */
  line(re: RegExp): Promise<string>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(sig?: NodeJS.Signals): Promise<void>;
}

/** `prefix` runs the process through another command (e.g. `ip netns exec NS`, test/kit/netns.ts). */
export function startProc(t: Test, args: string[], env: Record<string, string>, label: string, prefix: string[] = []): Proc {
  const argv = [...prefix, process.execPath, ...args];
  const proc = spawn(argv[0], argv.slice(1), {
    cwd: ROOT,
    env: { ...process.env, FLOTILLA_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  // FLOTILLA_TEST_LOG_DIR: every process's whole output is also appended to DIR/LABEL.log (diagnostics)
  const logDir = process.env.FLOTILLA_TEST_LOG_DIR;
  const keep = (s: string) => {
    if (logDir) appendFileSync(join(logDir, `${label.replace(/[^\w.-]+/g, '_')}.log`), s);
  };
  const waiters: Array<{ re: RegExp; resolve: (l: string) => void }> = [];
  let partial = '';
  const seen: string[] = [];
  proc.stdout?.on('data', (d: Buffer) => {
    const s = d.toString();
    keep(s);
    out = (out + s).slice(-20_000);
    partial += s;
    let i: number;
    while ((i = partial.indexOf('\n')) >= 0) {
      const l = partial.slice(0, i);
      partial = partial.slice(i + 1);
      seen.push(l);
      if (seen.length > 500) seen.shift();
      for (const w of [...waiters])
        if (w.re.test(l)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(l);
        }
    }
  });
  proc.stderr?.on('data', (d: Buffer) => {
    keep(d.toString());
    out = (out + d.toString()).slice(-20_000);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
    proc.once('exit', (code, signal) => r({ code, signal })),
  );
  const alive = () => proc.exitCode === null && proc.signalCode === null;
  const p: Proc = {
    proc,
    pid: proc.pid ?? 0,
    output: () => out,
    line: (re) =>
      new Promise<string>((resolve, reject) => {
        const earlier = seen.find((l) => re.test(l));
        if (earlier !== undefined) {
          resolve(earlier);
          return;
        }
        waiters.push({ re, resolve });
        void exited.then((e) => reject(new Error(`${label} exited (${e.code ?? e.signal}) before printing ${re}:\n${out.slice(-4000)}`)));
      }),
    exited,
    async kill(sig: NodeJS.Signals = 'SIGKILL') {
      if (alive()) {
        proc.kill(sig);
        await exited;
      }
    },
  };
  t.teardown(async () => {
    if (alive()) {
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
  });
  return p;
}

/** `auth`: the server's credentials; heads and agents started here get theirs from it. */
export interface Cluster {
  natsUrl: string;
  prefix: string;
  auth?: ServerAuth;
}

/** A worker agent process; resolves once a head accepted its registration. */
export async function startAgentProc(t: Test, c: Cluster, nodeId: string, slots: number, waitRegistered = true): Promise<Proc> {
  const p = startProc(
    t,
    ourEntry('worker/agent/main.ts'),
    {
      FLOTILLA_NATS_URL: c.natsUrl,
      FLOTILLA_PREFIX: c.prefix,
      FLOTILLA_NODE_ID: nodeId,
      FLOTILLA_SLOTS: String(slots),
      ...(c.auth ? { FLOTILLA_JOIN_TOKEN: await c.auth.joinToken(c.prefix, nodeId) } : {}),
    },
    `agent ${nodeId}`,
  );
  if (waitRegistered) await p.line(/registered/);
  return p;
}

/** A head process on `port`; resolves with its URL once it listens. */
export async function startHeadProc(
  t: Test,
  c: Cluster,
  port: number,
  env: Record<string, string> = {},
): Promise<{ p: Proc; url: string }> {
  const p = startProc(
    t,
    ourEntry('head/main.ts'),
    {
      FLOTILLA_NATS_URL: c.natsUrl,
      FLOTILLA_PREFIX: c.prefix,
      FLOTILLA_HEAD_PORT: String(port),
      ...(c.auth
        ? {
            FLOTILLA_NATS_CREDS: c.auth.headCreds,
            FLOTILLA_NATS_SIGNING_KEY: c.auth.signingKey,
            ...(c.auth.revoker ? { FLOTILLA_NATS_REVOKER: c.auth.revoker } : {}),
          }
        : {}),
      ...env,
    },
    'head',
  );
  const l = await p.line(/flotilla head listening on /);
  return { p, url: l.replace(/^.*listening on /, '').trim() };
}

/** Runs the CLI to completion; resolves with its exit code and stdout. */
export async function cli(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const proc = spawn(process.execPath, [join(ROOT, 'bin', 'flotilla.mjs'), ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  proc.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const code = await new Promise<number | null>((r) => proc.once('exit', (c) => r(c)));
  return { code, stdout, stderr };
}
