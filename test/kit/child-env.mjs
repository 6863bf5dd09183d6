// Loaded into every test process (package.json tap.node-arg). tap's process-info loader runs in
// each test process and, through `process-on-spawn`, adds itself to the NODE_OPTIONS of every
// process that test starts (heads, agents, actors, the CLI, bench helpers). In those children it
// only costs CPU: an off-thread module-loader hook every import goes through, source maps parsed
// for every loaded file, a record file per process; coverage is off, so nothing reads them.
// This listener runs after tap's and takes the loader out again (docs/development.md, "Test
// suite time").
import { createRequire } from 'node:module';

const TAP_LOADER = /(^|\s)"?--(?:import|loader|require)[= ]"?[^\s"]*@tapjs[/\\]processinfo[^\s"]*"?/g;

/** NODE_OPTIONS without tap's process-info loader ('' when nothing else was in it). */
export function withoutTapLoader(nodeOptions) {
  return nodeOptions.replace(TAP_LOADER, ' ').replace(/\s+/g, ' ').trim();
}

const onSpawn = createRequire(import.meta.url)('process-on-spawn');
onSpawn.addListener((child) => {
  const opts = child.env.NODE_OPTIONS;
  if (!opts?.includes('@tapjs')) return;
  const kept = withoutTapLoader(opts);
  if (kept) child.env.NODE_OPTIONS = kept;
  else delete child.env.NODE_OPTIONS;
});
