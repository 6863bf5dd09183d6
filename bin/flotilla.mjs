#!/usr/bin/env node
// The flotilla CLI: runs bin/cli/main from dist/ when `npm run build` left it current there
// (shared/run-entry.ts says when), else from the TypeScript sources through tsx.
// FLOTILLA_RUN=ts forces the sources, FLOTILLA_RUN=js insists on dist/.
import { existsSync } from 'node:fs';
import module from 'node:module';
import { homedir } from 'node:os';
import { join } from 'node:path';

// V8's compile cache (Node >= 22.1; a no-op before): the CLI, the head and agents compile less at
// each start after the first. NODE_COMPILE_CACHE, else node-compile-cache in the node cache.
module.enableCompileCache?.(
  process.env.NODE_COMPILE_CACHE ?? join(process.env.FLOTILLA_NODE_CACHE || join(homedir(), '.cache', 'flotilla'), 'node-compile-cache'),
);

const want = process.env.FLOTILLA_RUN ?? 'auto';
let main;
if (want !== 'ts' && existsSync(new URL('../dist/.stamp.json', import.meta.url))) {
  const { distStale } = await import('../dist/shared/run-entry.js');
  const why = distStale();
  if (why === null) ({ main } = await import('../dist/bin/cli/main.js'));
  else if (want === 'js') throw new Error(`FLOTILLA_RUN=js: ${why}`);
} else if (want === 'js') {
  throw new Error('FLOTILLA_RUN=js: dist/ is not built (npm run build)');
}
if (!main) {
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import('./cli/main.ts'));
}
process.exitCode = await main(process.argv.slice(2));
