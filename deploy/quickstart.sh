#!/usr/bin/env bash
# Quick start on a fresh Debian/Ubuntu machine: install what is missing, build, run the main job
# (a local cluster that trains YOLOv5n on the built-in synthetic set and prints its mAP).
# Extra arguments go to `flotilla demo` (e.g. --workers 2 --epochs 5).
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
need=()
dpkg -s libopenblas-dev >/dev/null 2>&1 || need+=(libopenblas-dev)
command -v g++ >/dev/null || need+=(g++ make python3)
[ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need+=(fonts-dejavu-core)   # text in the run pictures (docs/pictures.md)
command -v node >/dev/null || need+=(nodejs npm)
if [ ${#need[@]} -gt 0 ]; then
  echo "quickstart: installing ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
bash deploy/install-nats.sh   # nats-server >= 2.10 from Debian trixie when missing or older
major=$(node -p 'process.versions.node.split(".")[0]')
[ "$major" -ge 20 ] || { echo "quickstart: Node.js >= 20 is required (found $(node --version))" >&2; exit 1; }
[ -d node_modules ] || npm ci --no-audit --no-fund
[ -e build/Release/flotilla_native.node ] || npm run build
npm run --silent build:js   # the compiled JavaScript every process runs (nothing to do when current)
exec node bin/flotilla.mjs demo "$@"
