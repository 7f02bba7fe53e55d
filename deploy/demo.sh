#!/usr/bin/env bash
# make demo: a live migration between two local test hosts.
# Brings the testbed up, starts a container on hostA that counts and holds
# 64 MiB of memory, migrates it to hostB while showing it keeps counting,
# then tears everything down again (also on failure or Ctrl-C).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
TB="${TERN_TESTBED_DIR:-/var/lib/tern/testbed}"
NAME=demo
ROOTFS="$(mktemp -d /tmp/tern-demo-rootfs.XXXXXX)"

tern() { node "$ROOT/dist/bin/tern.js" "$@"; }
migrate() { node "$ROOT/dist/bin/migrate.js" "$@"; }
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

if [ -f "$TB/testbed.env" ]; then
  echo "demo: a testbed is already up in $TB; run deploy/testbed.sh down first" >&2
  exit 1
fi

cleanup() {
  set +e
  say "tearing down"
  tern stop "$NAME" >/dev/null 2>&1
  bash deploy/testbed.sh down
  rm -rf "$ROOTFS"
}
trap cleanup EXIT

say "bringing up local test hosts hostA and hostB"
bash deploy/testbed.sh up 2

cp -a /opt/tern/rootfs/busybox/. "$ROOTFS/"
gcc -static -O2 -o "$ROOTFS/bin/workload" test/fixtures/workload.c

say "starting container '$NAME' on hostA (a heartbeat every ms, 64 MiB of memory)"
tern run --host hostA --name "$NAME" --rootfs "$ROOTFS" -- \
  /bin/sh -c '/bin/workload heartbeat /tmp/hb & /bin/workload memhog 64 7 half /tmp/mem & wait'
for _ in $(seq 100); do tern exec "$NAME" -- cat /tmp/mem >/dev/null 2>&1 && break; sleep 0.1; done
tern ps
beat() { tern exec "$NAME" -- cat /tmp/hb | awk '{ printf "heartbeat #%s, longest pause so far %.1f ms\n", $1, $3/1000 }'; }
echo "inside: $(tern exec "$NAME" -- hostname) $(tern exec "$NAME" -- ip -o -4 addr show eth0 | awk '{print $4}'), processes:"
tern exec "$NAME" -- ps -o pid,args | grep -v ' ps '
beat

say "migrate --from hostA --to hostB $NAME"
migrate --from hostA --to hostB "$NAME"

say "after the move"
tern ps
tern exec "$NAME" -- ps -o pid,args | grep -v ' ps '
beat
sleep 1
beat
echo "memory checksum at start: $(tern exec "$NAME" -- cat /tmp/mem)"
say "demo complete: the container kept its pids, address, memory and counter"
