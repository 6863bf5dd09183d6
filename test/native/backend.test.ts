// initBackend in fresh processes: the pick is made once per process.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import t from 'tap';

import { ADDON_PATH, hasAvx512 } from '../../worker/native/index.ts';

const script = `
import { initBackend } from './worker/engine/backend.ts';
try { console.log(JSON.stringify(await initBackend())); } catch (e) { console.log(JSON.stringify({ error: e.message })); }
`;

function pick(env: Record<string, string>): { out: { backend?: string; device?: string; error?: string }; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: new URL('../..', import.meta.url).pathname,
    env: { ...process.env, ...env },
    encoding: 'utf8',
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
  // Which OpenBLAS kernels: FLOTILLA_BLAS_CORE picks, `env` keeps OPENBLAS_CORETYPE, and by
  // default an AVX-512 CPU gets SkylakeX even where the environment says Haswell.
  t.match(
    pick({ FLOTILLA_BACKEND: '', FLOTILLA_BLAS_CORE: 'Haswell' }).out.device ?? '',
    /OpenBLAS Haswell/,
    'FLOTILLA_BLAS_CORE=Haswell is obeyed',
  );
  t.match(
    pick({ FLOTILLA_BACKEND: '', FLOTILLA_BLAS_CORE: 'env', OPENBLAS_CORETYPE: 'Sandybridge' }).out.device ?? '',
    /OpenBLAS Sandybridge/,
    'FLOTILLA_BLAS_CORE=env keeps OPENBLAS_CORETYPE',
  );
  if (hasAvx512()) {
    t.match(
      pick({ FLOTILLA_BACKEND: '', FLOTILLA_BLAS_CORE: '', OPENBLAS_CORETYPE: 'Haswell' }).out.device ?? '',
      /OpenBLAS SkylakeX/,
      'on this AVX-512 CPU the default is SkylakeX, over OPENBLAS_CORETYPE=Haswell',
    );
  } else {
    t.comment('skipping the AVX-512 default check: this CPU has no AVX-512 F/BW/DQ/VL');
  }
} else {
  t.comment(`skipping the native pick: ${ADDON_PATH} is not built`);
}
