#!/usr/bin/env bash
# Installs the nats-server Flotilla is tested with when the machine has none, or one older than
# the minimum. Debian bookworm's own package is 2.9.10 (January 2023), whose cluster servers panic
# on restart once a stream has been sealed (see docs); Debian 13 "trixie" (the current stable
# release, security-supported) carries 2.10.27, a static Go binary that runs on bookworm's glibc.
# The .deb comes from the same Debian mirror through a private apt source list (the machine's own
# sources are not touched) and its binary is installed as /usr/local/bin/nats-server.
#
#   bash deploy/install-nats.sh            # install when missing or too old
#   FLOTILLA_NATS_SUITE=sid bash deploy/install-nats.sh   # newest line (2.15.x in late 2026)
#   FLOTILLA_NATS_FORCE=1 FLOTILLA_NATS_DEST=DIR ...       # install into DIR whatever PATH has
#                                                          # (test/deploy/nats-version.test.ts gets bookworm's 2.9.10 so)
set -euo pipefail
MIN="${FLOTILLA_NATS_MIN:-2.10.0}"
SUITE="${FLOTILLA_NATS_SUITE:-trixie}"
MIRROR="${FLOTILLA_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
DEST="${FLOTILLA_NATS_DEST:-/usr/local/bin}"
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"

version_of() { "$1" --version 2>/dev/null | sed -n 's/.*v\{0,1\}\([0-9][0-9]*\.[0-9][0-9]*\.[0-9][0-9]*\).*/\1/p' | head -1; }
at_least() { [ "$(printf '%s\n%s\n' "$MIN" "$1" | sort -V | head -1)" = "$MIN" ]; }

if [ "${FLOTILLA_NATS_FORCE:-}" != 1 ] && have=$(command -v nats-server) && v=$(version_of "$have") && [ -n "$v" ] && at_least "$v"; then
  echo "install-nats: $have is $v (>= $MIN), nothing to do"
  exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/etc"
echo "deb $MIRROR $SUITE main" > "$work/etc/sources.list"
apt_opts=(-o "Dir::Etc::SourceList=$work/etc/sources.list" -o "Dir::Etc::SourceParts=/dev/null"
  -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache" -o "Debug::NoLocking=1"
  -o "APT::Get::List-Cleanup=0")
echo "install-nats: fetching nats-server from Debian $SUITE"
apt-get "${apt_opts[@]}" update -qq 2>&1 | grep -v "unsandboxed as root" || true
( cd "$work" && apt-get "${apt_opts[@]}" download nats-server 2>&1 | grep -v "unsandboxed as root" || true )
dpkg-deb -x "$work"/nats-server_*.deb "$work/root"
bin=""
for b in "$work/root/usr/sbin/nats-server" "$work/root/usr/bin/nats-server"; do [ -x "$b" ] && bin="$b"; done
[ -n "$bin" ] || { echo "install-nats: no nats-server binary in the Debian $SUITE package" >&2; exit 1; }
v=$(version_of "$bin")
at_least "$v" || { echo "install-nats: Debian $SUITE has nats-server $v, older than $MIN" >&2; exit 1; }
mkdir -p "$DEST"
[ -w "$DEST" ] && SUDO=""
$SUDO install -m 0755 "$bin" "$DEST/nats-server"
echo "install-nats: installed nats-server $v as $DEST/nats-server"
