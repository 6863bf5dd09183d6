/**
 * The CLI's one flag layer (bin/cli/parse.ts) and error printer (bin/cli/fail.ts): every bad flag
 * of an invocation listed at once with the usage line (exit 2), numbers that are no numbers named,
 * --help of every command generated from its schema (exit 0), a valid invocation parsed and run.
 */
import t from 'tap';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../bin/cli/main.ts';
import { COMMAND_TABLE } from '../../bin/cli/commands.ts';
import { parse, UsageError, type CommandSpec } from '../../bin/cli/parse.ts';
import { printError } from '../../bin/cli/fail.ts';
import { spec as logsSpec } from '../../bin/cli/logs.ts';
import { FlotillaError } from '../../shared/errors.ts';

async function capture(f: () => Promise<number> | number): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const { log, error } = console;
  console.log = (...a: unknown[]) => {
    out.push(a.join(' '));
  };
  console.error = (...a: unknown[]) => {
    err.push(a.join(' '));
  };
  try {
    return { code: await f(), out: out.join('\n'), err: err.join('\n') };
  } finally {
    console.log = log;
    console.error = error;
  }
}

// a head nobody listens on: a parse that let an invocation through would fail with 'cannot reach' (exit 1), not 2
const NOBODY = ['--server', 'http://127.0.0.1:9'];

t.test('several bad flags: all listed in one message with the usage line, exit 2', async (t) => {
  const r = await capture(() => main(['logs', 'j1', '--from', 'abc', '--bogus', '--json=yes', ...NOBODY, '--token']));
  t.equal(r.code, 2);
  t.match(r.err, "flotilla logs: --from: expected an integer >= 0, got 'abc'");
  t.match(r.err, 'flotilla logs: unknown flag --bogus');
  t.match(r.err, "flotilla logs: --json takes no value (got 'yes')");
  t.match(r.err, 'flotilla logs: --token: missing value (T)');
  t.match(r.err, /^usage: flotilla logs ID/m, 'the usage line');
  t.notMatch(r.err, /cannot reach the head/, 'nothing was called');
});

t.test('a number that is no number names its flag: exit 2 (submit exited 1 before)', async (t) => {
  const r = await capture(() => main(['submit', '--workers', 'abc', '--priority', '', ...NOBODY]));
  t.equal(r.code, 2);
  t.match(r.err, "--workers: expected a number, got 'abc'");
  t.match(r.err, "--priority: expected a number, got ''");
  const range = await capture(() => main(['synth', '--img', '16', '--train', '-1']));
  t.equal(range.code, 2, 'out of range: exit 2');
  t.match(range.err, "--img: expected an integer >= 32, got '16'");
  t.match(range.err, "--train: expected an integer >= 0, got '-1'");
  t.match(range.err, '--out: required', 'a missing required flag in the same message');
});

t.test('unknown flags and bad positionals: exit 2', async (t) => {
  for (const argv of [['status', '--bogus'], ['cancel', '-x', 'j1'], ['cancel'], ['scale', 'j1', 'many'], ['token', 'rotate']]) {
    const r = await capture(() => main([...argv, ...NOBODY]));
    t.equal(r.code, 2, argv.join(' '));
    t.match(r.err, new RegExp(`^usage: flotilla ${argv[0]} `, 'm'), `${argv[0]}: its usage line`);
  }
});

t.test('--help of every command: exit 0, every flag of its schema listed', async (t) => {
  for (const [name, c] of Object.entries(COMMAND_TABLE)) {
    const mod = (await c.load()) as { spec?: CommandSpec; run(argv: string[]): Promise<number> };
    t.ok(mod.spec, `${name} declares its flags`);
    const r = await capture(() => mod.run(['--help']));
    t.equal(r.code, 0, `${name} --help exits 0`);
    t.match(r.out, new RegExp(`^usage: flotilla ${name}\\b`), `${name}: usage first`);
    const missing = Object.keys(mod.spec!.flags.shape).filter((f) => !r.out.includes(`--${f}`));
    t.same(missing, [], `${name}: every flag in its help`);
    t.equal((await capture(() => mod.run(['-h']))).code, 0, `${name} -h`);
  }
});

t.test('a valid invocation: typed flags and arguments, and a command that runs', async (t) => {
  const p = parse(logsSpec, ['j1', '-f', '--from=3', '--server', 'http://h:1']);
  t.ok(p.ok);
  if (p.ok) {
    t.same(p.args, ['j1']);
    t.same(p.flags, { follow: true, from: 3, server: 'http://h:1' });
  }
  const dir = mkdtempSync(join(tmpdir(), 'flotilla-parse-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const r = await capture(() => main(['synth', '--out', dir, '--train', '2', '--val', '1', '--img', '64', '--classes', 'circle']));
  t.equal(r.code, 0, r.err);
  t.ok(existsSync(join(dir, 'data.yaml')), 'synth wrote its set');
});

t.test('one error printer: code, message and hint of a FlotillaError (1), a usage error (2), anything else (1)', async (t) => {
  const down = await capture(() => printError('status', new FlotillaError('FLO_UNAVAILABLE', 'cannot reach the head at x')));
  t.equal(down.code, 1);
  t.match(down.err, 'flotilla status: FLO_UNAVAILABLE: cannot reach the head at x');
  t.match(down.err, '--server URL', 'a hint');
  const usage = await capture(() => printError('logs', new UsageError(logsSpec, ['--from: bad', 'one more'])));
  t.equal(usage.code, 2);
  t.match(usage.err, /flotilla logs: --from: bad\nflotilla logs: one more\n\nusage: flotilla logs/);
  const other = await capture(() => printError('synth', new Error('disk full')));
  t.same(other, { code: 1, out: '', err: 'flotilla synth: disk full' });
});
