#!/usr/bin/env node
// Builds the CUDA backend's two addons from worker/cuda/src (docs/gpu.md):
//  - build/cuda/flotilla_cuda_host.node: the same kernel sources compiled by g++ for the CPU
//    (device memory replaced by host memory), always; the tests of test/cuda run on it.
//  - build/cuda/flotilla_cuda.node: the real one, compiled by nvcc ≥ 11.8 when one is found
//    (PATH, $CUDA_HOME, /usr/local/cuda*, the `nvidia` pip packages' trees).
// Without a compiler for a variant it prints why it skipped it and exits 0, so `npm run build`
// never fails on a machine without CUDA; `--strict` (CI) makes a skip or an error exit 1.
//   node scripts/build-cuda.mjs [--only host|cuda] [--strict]
// Environment: FLOTILLA_CUDA_ARCH (e.g. "90" or "80,90"; default: the GPUs' (nvidia-smi), else 80 + PTX),
// FLOTILLA_NVCC (the nvcc to use), CXX (host compiler, default g++).
import { spawnSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(root, 'worker/cuda/src');
const out = join(root, 'build/cuda');
const argv = process.argv.slice(2);
const strict = argv.includes('--strict');
const only = argv.includes('--only') ? argv[argv.indexOf('--only') + 1] : undefined;
const CXX = process.env.CXX || 'g++';
const log = (line) => console.log(`build:cuda: ${line}`);

const kernels = readdirSync(src)
  .filter((f) => f.endsWith('.cu'))
  .sort();
const headers = readdirSync(src)
  .filter((f) => /\.(h|cuh)$/.test(f))
  .map((f) => join(src, f));

function nodeIncludes() {
  const dirs = [
    join(dirname(process.execPath), '..', 'include', 'node'),
    '/usr/include/node',
    join(process.env.HOME ?? '/root', '.cache/node-gyp', process.versions.node, 'include/node'),
  ];
  const node = dirs.find((d) => existsSync(join(d, 'node_api.h')));
  if (!node) return null;
  const napi = JSON.parse(createRequire(import.meta.url)('node-addon-api').include);
  return [node, napi];
}

const mtime = (f) => (existsSync(f) ? statSync(f).mtimeMs : 0);
function stale(target, deps) {
  const t = mtime(target);
  return t === 0 || deps.some((d) => mtime(d) > t);
}

function run(cmd, args) {
  return new Promise((res) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'] });
    p.on('error', (e) => res({ ok: false, why: e.message }));
    p.on('close', (code) => res({ ok: code === 0, why: `${cmd} exited ${code}` }));
  });
}

/** Compiles the jobs two at a time (the machine is shared); false on the first failure. */
async function compileAll(jobs) {
  const queue = [...jobs];
  let ok = true;
  const worker = async () => {
    while (ok && queue.length) {
      const j = queue.shift();
      if (!stale(j.obj, [j.src, ...headers])) continue;
      log(`${j.tool} ${j.src.slice(root.length + 1)}`);
      const r = await run(j.cmd, j.args);
      if (!r.ok) ok = false;
    }
  };
  await Promise.all([worker(), worker()]);
  return ok;
}

const common = ['-O3', '-std=c++17', '-DNAPI_VERSION=8', '-DNAPI_CPP_EXCEPTIONS'];

async function buildHost(includes) {
  const objDir = join(out, 'obj-host');
  mkdirSync(objDir, { recursive: true });
  const inc = includes.map((d) => `-I${d}`);
  const jobs = [...kernels, 'addon.cc'].map((f) => {
    const obj = join(objDir, `${f}.o`);
    return {
      tool: CXX,
      src: join(src, f),
      obj,
      cmd: CXX,
      args: [...common, '-fPIC', '-fopenmp', '-fexceptions', ...inc, '-x', 'c++', '-c', join(src, f), '-o', obj],
    };
  });
  if (!(await compileAll(jobs))) return { ok: false, why: 'the host variant failed to compile' };
  const target = join(out, 'flotilla_cuda_host.node');
  if (
    stale(
      target,
      jobs.map((j) => j.obj),
    )
  ) {
    const r = await run(CXX, ['-shared', '-fopenmp', ...jobs.map((j) => j.obj), '-lopenblas', '-o', target]);
    if (!r.ok) return { ok: false, why: `linking the host variant: ${r.why}` };
  }
  return { ok: true, path: target };
}

// ---- finding CUDA
function sh(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return r.status === 0 ? r.stdout : null;
}

/** Roots of the `nvidia` pip packages (site-packages/nvidia). */
function pipNvidiaRoots() {
  const roots = new Set();
  for (const py of ['python3', '/usr/bin/python3']) {
    const o = sh(py, ['-c', 'import nvidia, sys; print("\\n".join(nvidia.__path__))']);
    if (o)
      o.trim()
        .split('\n')
        .filter(Boolean)
        .forEach((p) => roots.add(p));
  }
  for (const base of ['/usr/local/lib', '/usr/lib', join(process.env.HOME ?? '/root', '.local/lib')]) {
    if (!existsSync(base)) continue;
    for (const d of readdirSync(base).filter((n) => n.startsWith('python3'))) {
      for (const sp of ['site-packages', 'dist-packages']) {
        const p = join(base, d, sp, 'nvidia');
        if (existsSync(p)) roots.add(p);
      }
    }
  }
  return [...roots];
}

function toolkitRoots() {
  const roots = [];
  for (const v of [process.env.CUDA_HOME, process.env.CUDA_PATH]) if (v) roots.push(v);
  const which = sh('sh', ['-c', 'command -v nvcc']);
  if (which) roots.push(resolve(dirname(which.trim()), '..'));
  if (existsSync('/usr/local')) {
    const cudas = readdirSync('/usr/local')
      .filter((n) => /^cuda(-[\d.]+)?$/.test(n))
      .sort((a, b) => b.localeCompare(a, undefined, { numeric: true }));
    roots.push(...cudas.map((n) => join('/usr/local', n)));
  }
  roots.push('/usr/lib/nvidia-cuda-toolkit', '/usr'); // Debian's nvidia-cuda-toolkit
  return [...new Set(roots)];
}

function nvccVersion(nvcc) {
  const o = sh(nvcc, ['--version']);
  const m = o && /release (\d+)\.(\d+)/.exec(o);
  return m ? [Number(m[1]), Number(m[2])] : null;
}

/** The nvcc binary behind a wrapper script (nvcc --dryrun names its own directory). */
function realNvcc(c) {
  const r = spawnSync(c, ['--dryrun', '-c', 'x.cu'], { encoding: 'utf8' });
  const here = /^#\$ _HERE_=(.*)$/m.exec(`${r.stdout}${r.stderr}`)?.[1]?.trim();
  return here && existsSync(join(here, 'nvcc')) ? join(here, 'nvcc') : realpathSync(c);
}

function findNvcc(pip) {
  const cands = [];
  if (process.env.FLOTILLA_NVCC) cands.push(process.env.FLOTILLA_NVCC);
  for (const r of toolkitRoots()) cands.push(join(r, 'bin', 'nvcc'));
  for (const p of pip) cands.push(join(p, 'cuda_nvcc', 'bin', 'nvcc'));
  const tried = [];
  for (const c of [...new Set(cands)]) {
    if (!existsSync(c)) continue;
    const v = nvccVersion(c);
    if (v && (v[0] > 11 || (v[0] === 11 && v[1] >= 8))) return { nvcc: realNvcc(c), version: v };
    tried.push(`${c} (${v ? v.join('.') : 'no version'})`);
  }
  return {
    why: tried.length
      ? `no nvcc >= 11.8 (found ${tried.join(', ')})`
      : 'no nvcc found (PATH, $CUDA_HOME, /usr/local/cuda*, pip nvidia-cuda-nvcc)',
  };
}

/** Library directories of a CUDA install: the toolkit's, and the pip packages'. */
function libDirs(nvcc, pip) {
  const r = resolve(dirname(nvcc), '..');
  const dirs = [join(r, 'lib64'), join(r, 'lib'), join(r, 'targets/x86_64-linux/lib'), '/usr/lib/x86_64-linux-gnu'];
  for (const p of pip) dirs.push(join(p, 'cuda_runtime', 'lib'), join(p, 'cublas', 'lib'), join(p, 'cu13', 'lib'));
  return dirs.filter((d) => existsSync(d));
}

function findLib(dirs, stem) {
  for (const d of dirs) {
    const names = readdirSync(d).filter((n) => n === `${stem}.so` || n.startsWith(`${stem}.so.`) || n === `${stem}_static.a`);
    if (names.length) return { dir: d, names };
  }
  return null;
}

function archs(nvcc) {
  const supported = (sh(nvcc, ['--list-gpu-arch']) ?? '')
    .split('\n')
    .map((l) => /compute_(\d+)/.exec(l)?.[1])
    .filter(Boolean);
  const want = process.env.FLOTILLA_CUDA_ARCH;
  if (want) return want.split(/[,; ]+/).filter(Boolean);
  const smi = sh('nvidia-smi', ['--query-gpu=compute_cap', '--format=csv,noheader']);
  if (smi) {
    const caps = [
      ...new Set(
        smi
          .trim()
          .split('\n')
          .map((l) => l.trim().replace('.', '')),
      ),
    ].filter((c) => supported.includes(c));
    if (caps.length) return caps;
  }
  // No GPU here (a build or CI machine): sm_80 code plus its PTX, which the driver compiles for
  // any newer GPU when the addon loads; one arch keeps the build to a couple of minutes.
  return ['80'];
}

/**
 * Undefined symbols of an addon that no library provides: those without a version tag, except
 * the N-API functions Node.js itself resolves when it loads the addon.
 */
function unresolved(target) {
  const o = sh('nm', ['-D', '--undefined-only', target]);
  if (o === null) return [];
  return o
    .split('\n')
    .map((l) => l.trim().split(/\s+/).pop() ?? '')
    .filter((n) => n && !n.includes('@') && !/^(napi_|node_api_)/.test(n) && !/^_?_(gmon_start|cxa_finalize|ITM_)/.test(n));
}

async function buildCuda(includes) {
  const pip = pipNvidiaRoots();
  const found = findNvcc(pip);
  if (!found.nvcc) return { ok: false, skipped: true, why: found.why };
  const { nvcc, version } = found;
  const root = resolve(dirname(nvcc), '..');
  const dirs = libDirs(nvcc, pip);
  const cudart = findLib(dirs, 'libcudart');
  if (!cudart) return { ok: false, skipped: true, why: `nvcc ${version.join('.')} at ${nvcc} but no libcudart in ${dirs.join(', ')}` };
  const cublas = findLib(dirs, 'libcublas');
  const incs = [
    join(root, 'include'),
    join(root, 'targets/x86_64-linux/include'),
    ...pip.map((p) => join(p, 'cuda_runtime', 'include')),
  ].filter((d) => existsSync(d));
  const arch = archs(nvcc);
  const gencode = arch.flatMap((a) => ['-gencode', `arch=compute_${a},code=sm_${a}`]);
  const top = arch[arch.length - 1];
  gencode.push('-gencode', `arch=compute_${top},code=compute_${top}`); // PTX for newer GPUs
  const ccbin = [];
  if (version[0] === 11) {
    // CUDA 11.8 supports gcc up to 11 (Debian bookworm: apt-get install g++-11)
    const gxx = ['g++-11', 'g++-10'].find((g) => sh('sh', ['-c', `command -v ${g}`]));
    if (gxx) ccbin.push('-ccbin', gxx);
  }
  const hint = cublas
    ? [`-DFLOTILLA_CUBLAS_HINT="${join(cublas.dir, cublas.names.find((n) => n.includes('.so.')) ?? cublas.names[0])}"`]
    : [];
  log(
    `nvcc ${version.join('.')} at ${nvcc}, sm ${arch.join(',')}; cuBLAS ${cublas ? `in ${cublas.dir}` : 'not found now: the addon looks for libcublas.so.{13,12,11} when it loads (FLOTILLA_CUBLAS names one)'}`,
  );
  const objDir = join(out, 'obj-cuda');
  mkdirSync(objDir, { recursive: true });
  const jobs = kernels.map((f) => {
    const obj = join(objDir, `${f}.o`);
    return {
      tool: 'nvcc',
      src: join(src, f),
      obj,
      cmd: nvcc,
      args: [
        ...ccbin,
        '-O3',
        '-std=c++17',
        '-Xcompiler',
        '-fPIC',
        ...gencode,
        ...hint,
        ...incs.map((d) => `-I${d}`),
        '-c',
        join(src, f),
        '-o',
        obj,
      ],
    };
  });
  jobs.push({
    tool: CXX,
    src: join(src, 'addon.cc'),
    obj: join(objDir, 'addon.cc.o'),
    cmd: CXX,
    args: [
      ...common,
      '-fPIC',
      '-fexceptions',
      ...includes.map((d) => `-I${d}`),
      '-c',
      join(src, 'addon.cc'),
      '-o',
      join(objDir, 'addon.cc.o'),
    ],
  });
  if (!(await compileAll(jobs))) return { ok: false, why: 'nvcc failed to compile the CUDA sources' };
  const target = join(out, 'flotilla_cuda.node');
  const staticRt = cudart.names.includes('libcudart_static.a');
  const rt = staticRt
    ? [join(cudart.dir, 'libcudart_static.a'), '-ldl', '-lrt', '-lpthread']
    : [join(cudart.dir, cudart.names.find((n) => n === 'libcudart.so') ?? cudart.names[0]), `-Wl,-rpath,${cudart.dir}`];
  if (
    stale(
      target,
      jobs.map((j) => j.obj),
    )
  ) {
    const r = await run(CXX, ['-shared', ...jobs.map((j) => j.obj), ...rt, '-ldl', '-o', target]);
    if (!r.ok) return { ok: false, why: `linking the CUDA addon: ${r.why}` };
  }
  const missing = unresolved(target);
  if (missing.length) return { ok: false, why: `the CUDA addon links with unresolved symbols: ${missing.slice(0, 8).join(', ')}` };
  return { ok: true, path: target, nvcc, version: version.join('.'), arch, cublas: cublas?.dir ?? null, cudartStatic: staticRt };
}

mkdirSync(out, { recursive: true });
const includes = nodeIncludes();
// build.json keeps the last outcome of each variant (--only rebuilds one)
let report = {};
try {
  report = JSON.parse(readFileSync(join(out, 'build.json'), 'utf8'));
} catch {
  /* first build */
}
let failed = false;
if (!includes) {
  log('skipped: no Node.js headers (node_api.h) found; install nodejs headers or run node-gyp install');
  failed = true;
} else {
  if (only !== 'cuda') {
    report.host = await buildHost(includes);
    log(report.host.ok ? `host variant: ${report.host.path}` : `host variant not built: ${report.host.why}`);
    if (!report.host.ok) failed = true;
  }
  if (only !== 'host') {
    report.cuda = await buildCuda(includes);
    if (report.cuda.ok) log(`CUDA addon: ${report.cuda.path}`);
    else log(`CUDA addon ${report.cuda.skipped ? 'skipped' : 'not built'}: ${report.cuda.why}`);
    if (!report.cuda.ok) failed = true;
  }
}
writeFileSync(join(out, 'build.json'), `${JSON.stringify(report, null, 2)}\n`);
process.exit(failed && strict ? 1 : 0);
