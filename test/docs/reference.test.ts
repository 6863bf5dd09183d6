/**
 * The generated reference pages (docs/reference/) are what scripts/gen-docs.ts makes from the
 * code today: the head's OpenAPI document, the CLI's command table and --help texts, the Config
 * schema. A route, flag or config key changed without `npm run docs:gen` fails here.
 */
import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateReference, ROOT } from '../../scripts/gen-docs.ts';

t.test('docs/reference/ equals what npm run docs:gen writes', async (t) => {
  const pages = await generateReference();
  t.same([...pages.keys()].sort(), ['docs/reference/cli.md', 'docs/reference/configuration.md', 'docs/reference/rest-api.md']);
  for (const [path, text] of pages) {
    const file = join(ROOT, path);
    const committed = existsSync(file) ? readFileSync(file, 'utf8') : '(missing)';
    if (committed === text) {
      t.pass(`${path} is up to date`);
      continue;
    }
    const a = committed.split('\n'),
      b = text.split('\n');
    const line = a.findIndex((l, i) => l !== b[i]);
    t.fail(`${path} is out of date: run npm run docs:gen`, { line: line + 1, committed: a[line], generated: b[line] });
  }
});

t.test('the generated pages cover every route, command and config key', async (t) => {
  const pages = await generateReference();
  const rest = pages.get('docs/reference/rest-api.md')!;
  for (const h of ['## POST /v1/jobs', '## PATCH /v1/jobs/{id}', '## POST /v1/jobs/{id}/faults', '## GET /v1/workers', '## GET /healthz'])
    t.ok(rest.includes(h), `REST page has ${h}`);
  t.match(rest, '`trainer (kind yolov5).img`', 'nested body fields are listed');
  const cli = pages.get('docs/reference/cli.md')!;
  const { COMMAND_TABLE } = await import('../../bin/cli/commands.ts');
  for (const name of Object.keys(COMMAND_TABLE))
    t.ok(cli.includes(`## ${name}\n`) && cli.includes(`usage: flotilla ${name}`), `CLI page has ${name} and its usage`);
  const conf = pages.get('docs/reference/configuration.md')!;
  const { CONFIG_ENV_NAMES } = await import('../../shared/config.ts');
  for (const n of CONFIG_ENV_NAMES) t.ok(conf.includes(`\`${n}\``), `configuration page names ${n}`);
  t.match(conf, '| `head.deadAfterMs` | `FLOTILLA_DEAD_AFTER_MS` |', 'a variable is matched to the key it sets');
});
