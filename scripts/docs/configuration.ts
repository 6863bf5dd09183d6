/**
 * docs/reference/configuration.md from the Config schema (shared/config.ts): every key with its
 * type, default and bounds (zod's JSON schema), its comment (read from the source), the
 * environment variable that sets it (found by loading the config with each variable set), and
 * the FLOTILLA_* names the code reads outside Config.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';
import { z } from 'zod';
import { Config, CONFIG_ENV_NAMES, loadConfig } from '../../shared/config.ts';
import { ENV_READ, OTHER_ENV, OTHER_ENV_REASONS } from '../../shared/env-names.ts';
import { fieldRows, table } from './markdown.ts';

const root = join(import.meta.dirname, '..', '..');
const CONFIG_SOURCE = join(root, 'shared', 'config.ts');

/** The doc comment of every key of `Config`, by dotted path (`head.deadAfterMs`). */
function keyComments(): Map<string, string> {
  const src = ts.createSourceFile(CONFIG_SOURCE, readFileSync(CONFIG_SOURCE, 'utf8'), ts.ScriptTarget.Latest, true);
  const text = src.getFullText();
  const out = new Map<string, string>();
  const visit = (node: ts.Node, path: string[]): void => {
    if (ts.isPropertyAssignment(node) && (ts.isIdentifier(node.name) || ts.isStringLiteral(node.name))) {
      const p = [...path, node.name.text];
      const doc = (ts.getLeadingCommentRanges(text, node.getFullStart()) ?? [])
        .map((r) => text.slice(r.pos, r.end))
        .filter((c) => c.startsWith('/**'))
        .map((c) =>
          c
            .replace(/^\/\*\*|\*\/$/g, '')
            .split('\n')
            .map((l) => l.replace(/^\s*\*\s?/, '').trim())
            .join(' ')
            .trim(),
        )
        .join(' ');
      if (doc) out.set(p.join('.'), doc);
      ts.forEachChild(node.initializer, (c) => visit(c, p));
      return;
    }
    ts.forEachChild(node, (c) => visit(c, path));
  };
  src.forEachChild((stmt) => {
    if (ts.isVariableStatement(stmt) && stmt.declarationList.declarations.some((d) => ts.isIdentifier(d.name) && d.name.text === 'Config'))
      visit(stmt, []);
  });
  return out;
}

function leaves(o: unknown, prefix = ''): Map<string, string> {
  const m = new Map<string, string>();
  if (o && typeof o === 'object' && !Array.isArray(o)) {
    for (const [k, v] of Object.entries(o)) for (const [p, s] of leaves(v, prefix ? `${prefix}.${k}` : k)) m.set(p, s);
  } else m.set(prefix, JSON.stringify(o));
  return m;
}

/** Which key each variable sets: load the config with only that variable, see what changed. */
function envKeys(): Map<string, string> {
  const base = leaves(loadConfig({ env: {} }));
  const byKey = new Map<string, string>();
  for (const name of CONFIG_ENV_NAMES) {
    for (const probe of ['3', '7', 'probe-value', '1']) {
      let got: Map<string, string>;
      try {
        got = leaves(loadConfig({ env: { [name]: probe } }));
      } catch {
        continue;
      }
      const changed = [...got].filter(([k, v]) => base.get(k) !== v).map(([k]) => k);
      if (changed.length === 1) {
        byKey.set(changed[0]!, name);
        break;
      }
    }
  }
  return byKey;
}

/** Every FLOTILLA_* name read in the platform's source (bin, head, shared, worker; not tests), with the files that read it. */
export function envReads(): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const dir of ['bin', 'head', 'shared', 'worker']) {
    for (const f of readdirSync(join(root, dir), { recursive: true }) as string[]) {
      if (!/\.(ts|mjs|js)$/.test(f) || f.includes('node_modules')) continue;
      const file = join(root, dir, f);
      if (file.endsWith(join('shared', 'env-names.ts'))) continue;
      const src = readFileSync(file, 'utf8');
      for (const m of src.matchAll(ENV_READ)) {
        if (!out.has(m[1]!)) out.set(m[1]!, new Set());
        out.get(m[1]!)!.add(relative(root, file));
      }
    }
  }
  return new Map([...out].sort(([a], [b]) => a.localeCompare(b)));
}

/** The names read that Config does not know. */
function otherEnv(): Map<string, Set<string>> {
  const known = new Set(CONFIG_ENV_NAMES);
  return new Map([...envReads()].filter(([n]) => !known.has(n)));
}

/** A key's own comment, else its nearest parent's (`paths` speaks for `paths.datasets`). */
function commentOf(comments: Map<string, string>, key: string): string {
  for (let k = key; k; k = k.includes('.') ? k.slice(0, k.lastIndexOf('.')) : '') if (comments.has(k)) return comments.get(k)!;
  return '';
}

export async function configurationPage(): Promise<string> {
  const schema = z.toJSONSchema(Config, { io: 'input', unrepresentable: 'any' }) as Record<string, any>;
  const comments = keyComments();
  const env = envKeys();
  const rows = fieldRows(schema).map((r) => [
    `\`${r.name}\``,
    env.has(r.name) ? `\`${env.get(r.name)}\`` : '',
    r.type,
    r.default,
    r.constraints,
    commentOf(comments, r.name),
  ]);
  const unmapped = CONFIG_ENV_NAMES.filter((n) => ![...env.values()].includes(n));
  const others = otherEnv();
  return [
    '# Configuration reference',
    '',
    '<!-- generated by `npm run docs:gen` (scripts/gen-docs.ts) from the Config schema in shared/config.ts; do not edit -->',
    '',
    'The head, `flotilla worker` and the other long-running commands read one configuration: the defaults below, then',
    "a YAML or JSON file (`FLOTILLA_CONFIG` or `--config FILE`), then the environment variables, then the command's",
    'flags. Every bad field is named in one error (`FLO_CONFIG`) before anything starts. Unknown keys are refused.',
    '',
    table(['key', 'environment', 'type', 'default', 'bounds', 'meaning'], rows),
    '',
    ...(unmapped.length ? [`Also read by the config: ${unmapped.map((n) => `\`${n}\``).join(', ')}.`, ''] : []),
    '## Other environment variables',
    '',
    'These `FLOTILLA_*` names are read directly by the files listed, not through `Config` (so they are not checked',
    'with the rest), each for the reason given (shared/env-names.ts; a test fails on a name read that is in neither place):',
    '',
    ...Object.entries(OTHER_ENV_REASONS).map(([k, v]) => `- **${k}**: ${v}`),
    '',
    table(
      ['variable', 'reason', 'what', 'read in'],
      [...others].map(([n, files]) => [
        `\`${n}\``,
        OTHER_ENV[n]?.reason ?? '(unlisted)',
        OTHER_ENV[n]?.what ?? '',
        [...files]
          .sort()
          .map((f) => `\`${f}\``)
          .join(', '),
      ]),
    ),
    '',
  ].join('\n');
}
