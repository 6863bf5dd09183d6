// initBackend in fresh processes: the pick is made once per process.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import t from 'tap';

import { ADDON_PATH } from '../../worker/native/index.ts';

const script = `
import { initBackend } from './worker/engine/backend.ts';
try { console.log(JSON.stringify(await initBackend())); } catch (e) { console.log(JSON.stringify({ error: e.message })); }
`;

function pick(env: Record<string, string>): { out: { backend?: string; device?: string; error?: string }; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: new URL('../..', import.meta.url).pathname, env: { ...process.env, ...env }, encoding: 'utf8',
  });
  const line = r.stdout.trim().split('\n').pop() ?? '{}';
  return { out: JSON.parse(line) as { backend?: string; error?: string }, stderr: r.stderr };
}

const missing = pick({ FLOTILLA_NATIVE_ADDON: '/nonexistent/flotilla_native.node', FLOTILLA_BACKEND: '' });
t.equal(missing.out.backend, 'cpu', 'without the addon the engine runs on plain cpu');
const notices = missing.stderr.split('\n').filter((l) => l.startsWith('flotilla:'));
t.equal(notices.length, 1, 'with exactly one notice line');
t.match(notices[0] ?? '', /native kernels not built/, 'that says why');

const forcedCpu = pick({ FLOTILLA_BACKEND: 'cpu' });
t.equal(forcedCpu.out.backend, 'cpu', 'FLOTILLA_BACKEND=cpu forces plain cpu');

const bad = pick({ FLOTILLA_BACKEND: 'tpu' });
t.match(bad.out.error ?? '', /not one of/, 'an unknown FLOTILLA_BACKEND is an error');

if (existsSync(ADDON_PATH)) {
  const native = pick({ FLOTILLA_BACKEND: '' });
  t.equal(native.out.backend, 'native-cpu', 'with the addon built the engine picks the native kernels');
  t.match(native.out.device ?? '', /OpenBLAS/, 'and names OpenBLAS in the device');
} else {
  t.comment(`skipping the native pick: ${ADDON_PATH} is not built`);
}
