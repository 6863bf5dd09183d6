/**
 * Writes the generated reference pages (docs/reference/): the REST API from the head's OpenAPI
 * document, the CLI from its command table, the configuration from the Config schema.
 * `node --import tsx scripts/gen-docs.ts` (npm run docs:gen); test/docs/reference.test.ts
 * checks that the committed pages equal what this writes.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { restApiPage } from './docs/rest-api.ts';
import { cliPage } from './docs/cli.ts';
import { configurationPage } from './docs/configuration.ts';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Each generated page's repository path and its text. */
export async function generateReference(): Promise<Map<string, string>> {
  return new Map([
    ['docs/reference/rest-api.md', await restApiPage()],
    ['docs/reference/cli.md', await cliPage()],
    ['docs/reference/configuration.md', await configurationPage()],
  ]);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  for (const [path, text] of await generateReference()) {
    const file = join(ROOT, path);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, text);
    console.log(`wrote ${path} (${text.split('\n').length - 1} lines)`);
  }
  process.exit(0);
}
