/**
 * The one flag layer of the CLI. A command declares its flags as a zod object (keys are the flag
 * names, `--nats-ca` is `'nats-ca'`; `.meta({ arg, short, description })` or `.describe()` give the
 * help text) and its positional arguments as a zod schema of `string[]`. `parse` reads argv
 * against that declaration, lists every problem at once (unknown flags, missing values, numbers
 * that are not numbers, values out of range, bad positionals) with the usage line and answers
 * exit 2; `--help` prints the help generated from the same declaration and answers exit 0.
 */
import { z } from 'zod';

export interface CommandSpec<F extends z.ZodObject = z.ZodObject, A extends z.ZodType<unknown, string[]> = z.ZodType<unknown, string[]>> {
  /** the command's name (`flotilla NAME`) */
  name: string;
  /** what follows `usage: flotilla NAME` (one string per form); default `[options]` */
  synopsis?: string | string[];
  /** text printed before the flags (what the positionals are) */
  intro?: string;
  flags: F;
  /** the positional arguments; default none */
  args?: A;
  /** text printed after the flags */
  notes?: string;
}

/** A command's declaration, typed (the identity; it keeps F and A inferred at the call site). */
export function defineCommand<F extends z.ZodObject, A extends z.ZodType<unknown, string[]> = z.ZodType<string[], string[]>>(
  spec: CommandSpec<F, A>,
): CommandSpec<F, A> {
  return spec;
}

/** Shared flag schemas of the client commands (they reach the head's REST API). */
export const clientFlags = {
  server: z.string().min(1).optional().meta({ arg: 'URL', description: 'head URL (env FLOTILLA_URL, default http://127.0.0.1:8080)' }),
  token: z.string().min(1).optional().meta({
    arg: 'T',
    description: 'REST token (env FLOTILLA_TOKEN, default: the one ~/.flotilla/credentials holds for that URL)',
  }),
};

/** No positional arguments. */
export const noArgs = z.array(z.string()).max(0, 'takes no arguments');

type Kind = 'boolean' | 'number' | 'string' | 'union';
interface FlagInfo {
  name: string;
  kind: Kind;
  list: boolean;
  short?: string;
  arg: string;
  description: string;
  /** the number schema (bounds for the message), when the flag is numeric */
  num?: z.ZodNumber;
}

/** optional/default/nullable wrappers off */
function unwrap(s: z.ZodType): z.ZodType {
  let t = s as z.ZodType & { def: { type: string; innerType?: z.ZodType; in?: z.ZodType } };
  for (;;) {
    const d = t.def;
    if ((d.type === 'optional' || d.type === 'default' || d.type === 'nullable' || d.type === 'prefault') && d.innerType)
      t = d.innerType as typeof t;
    else if (d.type === 'pipe' && d.in) t = d.in as typeof t;
    else return t;
  }
}

function meta(s: z.ZodType): { arg?: string; short?: string; description?: string } {
  return { description: s.description, ...((s.meta() ?? {}) as { arg?: string; short?: string; description?: string }) };
}

function infoOf(name: string, schema: z.ZodType): FlagInfo {
  let base = unwrap(schema);
  let list = false;
  if (base.def.type === 'array') {
    list = true;
    base = unwrap((base.def as unknown as { element: z.ZodType }).element);
  }
  const t = base.def.type;
  const kind: Kind = t === 'boolean' ? 'boolean' : t === 'number' ? 'number' : t === 'union' ? 'union' : 'string';
  const m = meta(schema);
  return {
    name,
    kind,
    list,
    short: m.short,
    arg: m.arg ?? (kind === 'number' ? 'N' : 'VALUE'),
    description: m.description ?? '',
    num: kind === 'number' ? (base as z.ZodNumber) : undefined,
  };
}

function flagInfos(spec: CommandSpec): FlagInfo[] {
  return Object.entries(spec.flags.shape).map(([k, s]) => infoOf(k, s as z.ZodType));
}

/** `usage: flotilla NAME …`, one line per form. */
export function usageLine(spec: CommandSpec): string {
  const forms = Array.isArray(spec.synopsis) ? spec.synopsis : [spec.synopsis ?? '[options]'];
  return forms.map((f, i) => `${i === 0 ? 'usage:' : '      '} flotilla ${spec.name} ${f}`.trimEnd()).join('\n');
}

/** The --help text: the usage line, the intro, one row per flag (from the schema), the notes. */
export function helpText(spec: CommandSpec): string {
  const rows = flagInfos(spec).map((f) => {
    const left = `${f.short ? `-${f.short}, ` : ''}--${f.name}${f.kind === 'boolean' ? '' : ` ${f.arg}`}`;
    return { left: f.list ? `${left} (repeatable)` : left, text: f.description };
  });
  const width = Math.max(0, ...rows.map((r) => r.left.length).filter((n) => n <= 24)) + 2;
  const pad = ' '.repeat(width + 2);
  const lines = rows.map((r) => {
    const [first = '', ...more] = r.text.split('\n');
    return [`  ${r.left.padEnd(width)}${first}`.trimEnd(), ...more.map((l) => `${pad}${l}`)].join('\n');
  });
  return [usageLine(spec), ...(spec.intro ? ['', spec.intro] : []), '', ...lines, ...(spec.notes ? ['', spec.notes] : [])].join('\n');
}

/** Prints the problems (one line each), the usage line and where the help is; the exit code 2. */
export function usageError(spec: CommandSpec, ...problems: string[]): number {
  console.error(
    [...problems.map((p) => `flotilla ${spec.name}: ${p}`), '', usageLine(spec), `(flotilla ${spec.name} --help lists every flag)`].join(
      '\n',
    ),
  );
  return 2;
}

/** A bad invocation found after parsing (exclusive flags, a bad file): main prints it with the usage line, exit 2. */
export class UsageError extends Error {
  override name = 'UsageError';
  constructor(
    readonly spec: CommandSpec,
    readonly problems: string[],
  ) {
    super(problems.join('; '));
  }
}

function describeNumber(n: z.ZodNumber | undefined): string {
  const what = n?.isInt ? 'an integer' : 'a number';
  const lo = n?.minValue,
    hi = n?.maxValue;
  const has = (x: number | null | undefined): x is number =>
    typeof x === 'number' && Number.isFinite(x) && Math.abs(x) < Number.MAX_SAFE_INTEGER;
  if (has(lo) && has(hi)) return `${what} in [${lo}, ${hi}]`;
  if (has(lo)) return `${what} >= ${lo}`;
  if (has(hi)) return `${what} <= ${hi}`;
  return what;
}

export type Parsed<S extends CommandSpec> = {
  ok: true;
  flags: z.output<S['flags']>;
  args: NonNullable<S['args']> extends z.ZodType ? z.output<NonNullable<S['args']>> : string[];
};

/** argv read against `spec`: the typed flags and arguments, or the exit code once --help or the problems are printed. */
export function parse<S extends CommandSpec>(spec: S, argv: readonly string[]): Parsed<S> | { ok: false; exit: number } {
  const infos = flagInfos(spec);
  const byName = new Map(infos.map((f) => [f.name, f]));
  const byShort = new Map(infos.filter((f) => f.short).map((f) => [f.short!, f]));
  const problems: string[] = [];
  const raw: Record<string, string | boolean | string[]> = {};
  const positionals: string[] = [];
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    let info: FlagInfo | undefined;
    let inline: string | undefined;
    if (a.startsWith('--') && a.length > 2) {
      const eq = a.indexOf('=');
      const name = eq < 0 ? a.slice(2) : a.slice(2, eq);
      inline = eq < 0 ? undefined : a.slice(eq + 1);
      if (name === 'help') {
        help = true;
        continue;
      }
      info = byName.get(name);
      if (!info) {
        problems.push(`unknown flag --${name}`);
        continue;
      }
    } else if (/^-[^-\d.]/.test(a)) {
      if (a === '-h') {
        help = true;
        continue;
      }
      info = a.length === 2 ? byShort.get(a[1]!) : undefined;
      if (!info) {
        problems.push(`unknown flag ${a}`);
        continue;
      }
    } else {
      positionals.push(a);
      continue;
    }
    if (info.kind === 'boolean') {
      if (inline !== undefined) problems.push(`--${info.name} takes no value (got '${inline}')`);
      else raw[info.name] = true;
      continue;
    }
    let value = inline;
    if (value === undefined) {
      const next = argv[i + 1];
      if (next === undefined || (next.startsWith('--') && next.length > 2)) {
        problems.push(`--${info.name}: missing value (${info.arg})`);
        continue;
      }
      value = next;
      i++;
    }
    if (info.list) ((raw[info.name] ??= []) as string[]).push(value);
    else raw[info.name] = value;
  }
  if (help) {
    console.log(helpText(spec));
    return { ok: false, exit: 0 };
  }
  // numbers read from their text; a text that is no number is named here, its range by the schema
  const input: Record<string, unknown> = {};
  const bad = new Set<string>();
  const num = (info: FlagInfo, v: string): number | undefined => {
    const x = v.trim() === '' ? Number.NaN : Number(v);
    if (Number.isFinite(x)) return x;
    problems.push(`--${info.name}: expected ${describeNumber(info.num)}, got '${v}'`);
    bad.add(info.name);
    return undefined;
  };
  for (const [k, v] of Object.entries(raw)) {
    const info = byName.get(k)!;
    if (info.kind === 'number') {
      const xs = (Array.isArray(v) ? v : [v as string]).map((s) => num(info, s));
      if (!bad.has(k)) input[k] = info.list ? xs : xs[0];
    } else if (info.kind === 'union' && typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) input[k] = Number(v);
    else input[k] = v;
  }
  const r = spec.flags.safeParse(input);
  if (!r.success) {
    for (const issue of r.error.issues) {
      const k = String(issue.path[0] ?? '');
      if (bad.has(k)) continue;
      const info = byName.get(k);
      const got = raw[k];
      const shown = got === undefined || got === true ? '' : `, got '${Array.isArray(got) ? got.join(',') : got}'`;
      if (info?.kind === 'number' && got !== undefined) problems.push(`--${k}: expected ${describeNumber(info.num)}${shown}`);
      else if (info) problems.push(`--${k}: ${got === undefined && issue.code === 'invalid_type' ? 'required' : issue.message}${shown}`);
      else problems.push(issue.message);
    }
  }
  const args = (spec.args ?? noArgs).safeParse(positionals);
  const given = positionals.length ? `'${positionals.join(' ')}'` : 'none';
  if (!args.success)
    for (const issue of args.error.issues) problems.push(issue.path.length ? issue.message : `${issue.message} (got ${given})`);
  if (problems.length) return { ok: false, exit: usageError(spec, ...problems) };
  return { ok: true, flags: r.data as Parsed<S>['flags'], args: (args.data ?? positionals) as Parsed<S>['args'] };
}

/** Flag schema builders: each flag optional, with its help text (`arg` is the value's name in --help). */
export const flag = {
  str: (arg: string, description: string) => z.string().optional().meta({ arg, description }),
  /** an integer flag in [min, max] */
  int: (arg: string, description: string, min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER) =>
    z.number().int().min(min).max(max).optional().meta({ arg, description }),
  /** a number flag in [min, max] */
  num: (arg: string, description: string, min = -Number.MAX_VALUE, max = Number.MAX_VALUE) =>
    z.number().min(min).max(max).optional().meta({ arg, description }),
  bool: (description: string, short?: string) =>
    z
      .boolean()
      .optional()
      .meta({ description, ...(short ? { short } : {}) }),
  /** a repeatable string flag */
  list: (arg: string, description: string) => z.array(z.string()).optional().meta({ arg, description }),
  oneOf: <const T extends readonly [string, ...string[]]>(values: T, arg: string, description: string) =>
    z
      .enum(values, { error: `expected one of ${values.join(', ')}` })
      .optional()
      .meta({ arg, description }),
};

/** A comma-separated list of integers in [min, max] (`--freeze 0,1,2`, `--classes 0,2`). */
export function intList(arg: string, description: string, min: number, max = Number.MAX_SAFE_INTEGER) {
  return z
    .string()
    .transform((v, ctx) => {
      const xs = v.split(',').map((x) => (x.trim() === '' ? Number.NaN : Number(x)));
      if (xs.length > 256 || xs.some((x) => !Number.isInteger(x) || x < min || x > max)) {
        ctx.addIssue({
          code: 'custom',
          message: `expected integers${max < Number.MAX_SAFE_INTEGER ? ` in [${min}, ${max}]` : ` >= ${min}`}, comma separated`,
        });
        return z.NEVER;
      }
      return xs;
    })
    .optional()
    .meta({ arg, description });
}
