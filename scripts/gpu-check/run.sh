#!/usr/bin/env bash
# The GPU-machine check (docs/gpu-machine.md): on a bare H100/H200 machine with CUDA 13 nvcc,
# PyTorch (nvidia-* pip cuBLAS/cuDNN) and Python 3.12, but no Node.js and no network. It unpacks
# the carry that scripts/gpu-check/prepare.mjs made (a stripped Node 22 and a bundle of the
# engine), builds the CUDA addon against this machine's CUDA, runs the CUDA parity tests (one
# under compute-sanitizer), bench:train on backend `cuda` and the PyTorch YOLOv5 script on the
# same GPU, and writes JSON to $OUT (summary.json first of all). About 8 minutes.
#   bash scripts/gpu-check/run.sh [CARRY_DIR]     (default: .gpu-check, else this script's folder)
# Each phase is bounded (timeout) and recorded; a phase that fails does not stop the next.
# Knobs: OUT (default ./gpu-check-out), GPU_CHECK_BUDGET_S (default 480), GPU_CHECK_CONFIGS
# (default yolov5n:16:320,yolov5s:16:320,yolov5n:64:640,yolov5s:64:640), GPU_CHECK_STEPS (5).
set -u
here=$(cd "$(dirname "$0")" && pwd)
carry=${1:-}
if [ -z "$carry" ]; then
  if [ -f .gpu-check/node.xz ]; then carry=.gpu-check; else carry=$here; fi
fi
carry=$(cd "$carry" && pwd)
OUT=${OUT:-$PWD/gpu-check-out}
mkdir -p "$OUT/logs"
budget=${GPU_CHECK_BUDGET_S:-480}
configs=${GPU_CHECK_CONFIGS:-yolov5n:16:320,yolov5s:16:320,yolov5n:64:640,yolov5s:64:640}
steps=${GPU_CHECK_STEPS:-5}
work=$(mktemp -d /tmp/flotilla-gpu-check.XXXXXX)
trap 'rm -rf "$work"' EXIT
phases="$OUT/phases.jsonl"
: > "$phases"
py=$(command -v python3 || command -v python)

# phase NAME LIMIT_S CMD...: runs CMD with a timeout (less when the budget is nearly spent), logs
# to $OUT/logs/NAME.log, and appends {name, rc, seconds, skipped} to phases.jsonl
phase() {
  local name=$1 limit=$2; shift 2
  local left=$((budget - SECONDS))
  if [ "$left" -lt 15 ]; then
    echo "{\"name\": \"$name\", \"skipped\": \"the ${budget} s budget is spent\"}" >> "$phases"
    echo "gpu-check: $name skipped (budget spent)"; return 0
  fi
  [ "$limit" -gt "$left" ] && limit=$left
  echo "gpu-check: $name (up to ${limit} s)"
  local t0=$SECONDS
  timeout --kill-after=10 "$limit" "$@" > "$OUT/logs/$name.log" 2>&1
  local rc=$?
  echo "{\"name\": \"$name\", \"rc\": $rc, \"seconds\": $((SECONDS - t0)), \"limit_s\": $limit}" >> "$phases"
  tail -n 3 "$OUT/logs/$name.log" | sed "s/^/  $name: /"
  return 0
}

# ---- what this machine is
"$py" - "$OUT/machine.json" <<'PY'
import json, shutil, subprocess, sys
def run(*cmd):
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        return (r.stdout or r.stderr).strip()
    except Exception as e:
        return f'unavailable: {e}'
m = {'python': sys.version.split()[0], 'nvidia_smi': run('nvidia-smi', '--query-gpu=index,name,memory.total,driver_version', '--format=csv,noheader'),
     'nvcc': run('nvcc', '--version').splitlines()[-1:] if shutil.which('nvcc') else 'nvcc not on PATH',
     'compute_sanitizer': shutil.which('compute-sanitizer') or 'not on PATH', 'node_on_machine': shutil.which('node')}
try:
    import torch
    m['torch'] = torch.__version__; m['torch_cuda'] = torch.version.cuda; m['cuda_available'] = torch.cuda.is_available()
except Exception as e:
    m['torch'] = f'not importable: {e}'
json.dump(m, open(sys.argv[1], 'w'), indent=1)
print(json.dumps(m))
PY
for d in /usr/local/cuda/bin /usr/local/cuda-13*/bin; do [ -x "$d/nvcc" ] && case ":$PATH:" in *":$d:"*) ;; *) PATH="$PATH:$d" ;; esac; done
for d in /usr/local/cuda/compute-sanitizer /usr/local/cuda-13*/compute-sanitizer; do [ -x "$d/compute-sanitizer" ] && PATH="$PATH:$d"; done
export PATH

# ---- unpack (Python's lzma and tarfile: no xz binary needed)
cat > "$work/unpack.py" <<'PY'
import lzma, os, shutil, sys, tarfile
carry, work = sys.argv[1], sys.argv[2]
os.makedirs(f'{work}/node/bin', exist_ok=True)
with lzma.open(f'{carry}/node.xz') as src, open(f'{work}/node/bin/node', 'wb') as dst:
    shutil.copyfileobj(src, dst)
os.chmod(f'{work}/node/bin/node', 0o755)
with tarfile.open(f'{carry}/payload.tar.xz') as t:
    t.extractall(f'{work}/repo')
shutil.move(f'{work}/repo/node/include', f'{work}/node/include')
print('unpacked', sorted(os.listdir(f'{work}/repo')))
PY
phase unpack 60 "$py" "$work/unpack.py" "$carry" "$work"
repo=$work/repo
export PATH="$work/node/bin:$PATH"
export LD_LIBRARY_PATH="$repo/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
cp "$repo/gpu-check-manifest.json" "$OUT/manifest.json" 2>/dev/null
cd "$repo" || { echo "gpu-check: nothing unpacked"; exit 1; }

# ---- the bundle starts under the carried Node (backend picked as a worker would pick it)
phase smoke 90 node dist/gpu/smoke.mjs

# ---- the CUDA addon, built against this machine's CUDA
if [ -f scripts/build-cuda.mjs ]; then
  phase build-cuda 240 node scripts/build-cuda.mjs --only cuda
  ls -la build/cuda > "$OUT/logs/build-cuda-files.log" 2>&1
else
  echo '{"name": "build-cuda", "skipped": "scripts/build-cuda.mjs is not in the payload (the CUDA backend was not in the tree prepare.mjs bundled)"}' >> "$phases"
  echo "gpu-check: build-cuda skipped: no scripts/build-cuda.mjs in the payload"
fi

# ---- parity suite on the GPU; the first test file again under compute-sanitizer
# the harness (test/cuda/harness.ts) tests the real addon, not its host variant, with this
export FLOTILLA_CUDA_TEST_BACKEND=cuda
tests=$(ls dist/gpu/cuda-*.test.mjs 2>/dev/null)
if [ -n "$tests" ]; then
  for f in $tests; do phase "parity-$(basename "$f" .mjs)" 120 node "$f"; done
  first=$(echo "$tests" | grep kernels | head -n1); first=${first:-$(echo "$tests" | head -n1)}
  if command -v compute-sanitizer > /dev/null; then
    phase sanitizer 180 compute-sanitizer --tool memcheck --error-exitcode 99 --print-limit 20 node "$first"
  else
    echo '{"name": "sanitizer", "skipped": "compute-sanitizer not found"}' >> "$phases"
  fi
else
  echo '{"name": "parity", "skipped": "no test/cuda parity tests in the payload"}' >> "$phases"
fi

# ---- bench:train on cuda, then PyTorch on the same GPU (one after the other, never together)
amp_flag=$("$py" -c "import json;print('--amp' if json.load(open('gpu-check-manifest.json')).get('bench_has_amp') else '')" 2>/dev/null)
IFS=, read -ra cfgs <<< "$configs"
for c in "${cfgs[@]}"; do
  IFS=: read -r m b s <<< "$c"
  FLOTILLA_BACKEND=cuda phase "bench-$m-b$b-$s-fp32" 100 node dist/gpu/bench-train.mjs --backend cuda --cfg "$m" --batch "$b" --img "$s" --steps "$steps" --no-reference --json "$OUT/bench-$m-b$b-$s-fp32.json"
  if [ -n "$amp_flag" ]; then
    FLOTILLA_BACKEND=cuda phase "bench-$m-b$b-$s-amp" 100 node dist/gpu/bench-train.mjs --backend cuda --cfg "$m" --batch "$b" --img "$s" --steps "$steps" --no-reference --amp --json "$OUT/bench-$m-b$b-$s-amp.json"
  fi
done
[ -z "$amp_flag" ] && echo '{"name": "bench-amp", "skipped": "bench/train.ts of this tree has no --amp"}' >> "$phases"
phase pytorch 240 "$py" scripts/gpu-check/yolov5_gpu.py --configs "$configs" --precisions fp32,tf32,amp --steps 10 --warmup 3 --out "$OUT/torch.json"

# ---- summary.json: machine, phases, our img/s against PyTorch's at the same precision
"$py" - "$OUT" <<'PY'
import glob, json, os, sys
out = sys.argv[1]
load = lambda p: json.load(open(p)) if os.path.exists(p) else None
phases = [json.loads(l) for l in open(f'{out}/phases.jsonl') if l.strip()]
for p in phases:
    log = f"{out}/logs/{p['name']}.log"
    if os.path.exists(log):
        p['tail'] = open(log, errors='replace').read()[-1500:]
ours = {}
for f in glob.glob(f'{out}/bench-*.json'):
    d = load(f)
    key = os.path.basename(f)[len('bench-'):-len('.json')]
    ours[key] = d
torch = load(f'{out}/torch.json') or {}
compare = []
for r in torch.get('results', []):
    key = f"{r['model']}-b{r['batch']}-{r['img']}-{'fp32' if r['precision'] in ('fp32', 'tf32') else 'amp'}"
    o = ours.get(key) or {}
    mine = o.get('images_per_s') or o.get('imagesPerS')
    theirs = r.get('images_per_s')
    compare.append({'config': key, 'torch_precision': r['precision'], 'flotilla_img_s': mine, 'torch_img_s': theirs,
                    'ratio': (mine / theirs) if mine and theirs else None, 'torch_error': r.get('error')})
summary = {'machine': load(f'{out}/machine.json'), 'manifest': load(f'{out}/manifest.json'), 'phases': phases,
           'flotilla_bench': ours, 'pytorch': torch.get('pytorch'), 'compare': compare}
json.dump(summary, open(f'{out}/summary.json', 'w'), indent=1)
for c in compare:
    print(f"{c['config']:28s} torch {c['torch_precision']:5s} {c['torch_img_s'] or 0:9.1f} img/s   flotilla {c['flotilla_img_s'] or 0:9.1f} img/s   ratio {c['ratio'] if c['ratio'] is None else round(c['ratio'], 3)}")
print(f'gpu-check: wrote {out}/summary.json')
PY
echo "gpu-check: done in ${SECONDS} s"
