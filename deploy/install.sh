#!/usr/bin/env bash
# tern install step: idempotent, fast when everything is already present.
#
#   deploy/install.sh            everything (Debian packages, CRIU, rootfs, npm, build, PATH)
#   deploy/install.sh --no-node  skip npm install/build (used by CI images that prebuilt)
#
# Installs under $TERN_PREFIX (default /opt/tern):
#   $TERN_PREFIX/criu/criu          CRIU >= 4.2.1 built from Debian unstable's source,
#                                   with deploy/criu-patches/ applied (the set in criu/patches)
#   $TERN_PREFIX/criu/images/*.proto  CRIU's image definitions, loaded by kernel/
#   $TERN_PREFIX/rootfs/busybox     the default container rootfs (static busybox)
#   $TERN_PREFIX/app                the build and its production dependencies, root-owned
# and links tern, migrate, tern-agent and tern-coordinator (in $TERN_PREFIX/app) into /usr/local/bin.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
PREFIX="${TERN_PREFIX:-/opt/tern}"
PKI="${TERN_PKI:-/etc/tern/pki}"
CRIU_MIN="4.2.1"
# The orig tarball sha256 we verified by hand; a newer unstable upload is accepted
# when it verifies against its own .dsc (fetched over apt's signed index).
CRIU_KNOWN_SHA256="29ec0ee09e296479fe7048c80980e8ef1d0684d0b0204c2b101dfea19f6725b9"
# CRIU's RUNDIR (where it caches its kernel probes): kernel/kdat.ts's CRIU_RUNDIR.
CRIU_RUNDIR="/run/tern/criu"
# Fixes tern carries for CRIU until a release has them, applied before the build.
CRIU_PATCHES=("$HERE"/criu-patches/*.patch)

# lz4: the command-line compressor of the plain CRIU pipeline that `npm run bench` compares against.
# libssl-dev: OpenSSL for tern-relay's TLS on the page stream (kernel/native).
RUNTIME_DEBS=(iproute2 nftables iptables busybox-static procps util-linux tar gcc libc6-dev make lz4 libssl-dev)
BUILD_DEBS=(libbsd-dev libcap-dev libgnutls28-dev libnet1-dev libnftables-dev libnl-3-dev
  libprotobuf-c-dev libprotobuf-dev pkgconf protobuf-c-compiler protobuf-compiler
  uuid-dev python3-protobuf dpkg-dev xz-utils patch)
# CRIU's zdtm tests, which the compatibility harness builds from the same source.
COMPAT_DEBS=(libaio-dev libcap-dev)
# What the tests drive: a headless browser for the coordinator's web view, curl to
# scrape /metrics.
TEST_DEBS=(chromium curl)
# etcd: the store of coordinators that take over from each other (--store etcd).
# tern runs its own members (deploy/testbed.sh up --ha); Debian's unit stays off.
HA_DEBS=(etcd-server etcd-client)

log() { printf 'install: %s\n' "$*" >&2; }
die() { printf 'install: error: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (tern drives CRIU, which needs root)"

apt_updated=0
apt_update_once() {
  if [ "$apt_updated" = 0 ]; then
    log "apt-get update"
    apt-get update -qq >/dev/null
    apt_updated=1
  fi
}

missing_debs() {
  local p out=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || out+=("$p")
  done
  echo "${out[@]:-}"
}

install_debs() {
  local miss
  miss="$(missing_debs "$@")"
  if [ -n "$miss" ]; then
    apt_update_once
    log "apt-get install $miss"
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $miss >/dev/null
  fi
}

install_etcd() {
  local miss
  miss="$(missing_debs "${HA_DEBS[@]}")"
  [ -z "$miss" ] && return
  install_debs "${HA_DEBS[@]}"
  # The package enables a member on localhost:2379 that tern does not use.
  if [ -d /run/systemd/system ]; then
    systemctl disable --now etcd.service >/dev/null 2>&1 || true
  fi
}

# Names the patch set a build carries, so that a changed set rebuilds CRIU.
criu_patch_stamp() { cat "${CRIU_PATCHES[@]}" | sha256sum | cut -d' ' -f1; }

version_ge() { [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" = "$2" ]; }

criu_ok() {
  [ -x "$PREFIX/criu/criu" ] || return 1
  [ -f "$PREFIX/criu/images/inventory.proto" ] || return 1
  local v
  v="$("$PREFIX/criu/criu" --version 2>/dev/null | sed -n 's/^Version: *//p')"
  [ -n "$v" ] && version_ge "$v" "$CRIU_MIN" || return 1
  [ "$(cat "$PREFIX/criu/patches" 2>/dev/null)" = "$(criu_patch_stamp)" ] || return 1
  # Built to keep its kernel-feature cache in tern's own directory (kernel/kdat.ts).
  grep -qaF "$CRIU_RUNDIR/criu.kdat" "$PREFIX/criu/criu"
}

# Applies deploy/criu-patches/ to the source tree in $1. A patch that a newer
# CRIU already has is skipped; one that no longer applies is left out with a
# warning (each fixes a bug that costs time, not one tern depends on).
patch_criu() {
  local p name
  for p in "${CRIU_PATCHES[@]}"; do
    name="$(basename "$p")"
    if patch -s -p1 -d "$1" --dry-run <"$p" >/dev/null 2>&1; then
      patch -s -p1 -d "$1" <"$p" >/dev/null
      log "criu: applied $name"
    elif patch -s -p1 -R -d "$1" --dry-run <"$p" >/dev/null 2>&1; then
      log "criu: this version already has $name"
    else
      log "warning: $name does not apply to this criu; building without it"
    fi
  done
}

install_criu() {
  if criu_ok; then return 0; fi
  install_debs "${BUILD_DEBS[@]}"
  local src=/etc/apt/sources.list.d/tern-sid-src.sources
  if [ ! -f "$src" ]; then
    log "adding a deb-src entry for Debian unstable (source packages only)"
    cat >"$src" <<SRC
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: sid
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
    apt_updated=0
  fi
  apt_update_once
  local work="$PREFIX/src"
  mkdir -p "$work"
  cd "$work"
  log "fetching CRIU source from Debian unstable"
  # The debian/ tarball may be missing from the mirror; we only need the .dsc and
  # the orig tarball, so judge by the checksum rather than by apt's exit code.
  apt-get source --download-only criu >/dev/null 2>&1 || true
  local dsc orig want got ver
  dsc="$(ls -1 criu_*.dsc 2>/dev/null | sort -V | tail -n1)"
  [ -n "$dsc" ] || die "could not download criu's .dsc from Debian unstable"
  ver="$(sed -n 's/^Version: *//p' "$dsc" | sed 's/-[^-]*$//')"
  version_ge "$ver" "$CRIU_MIN" || die "Debian unstable has criu $ver, tern needs >= $CRIU_MIN"
  orig="criu_${ver}.orig.tar.xz"
  [ -f "$orig" ] || die "could not download $orig"
  want="$(awk '/^Checksums-Sha256:/{f=1;next} f&&/^ /{ if ($3=="'"$orig"'") print $1 } f&&!/^ /{f=0}' "$dsc")"
  got="$(sha256sum "$orig" | cut -d' ' -f1)"
  [ -n "$want" ] || die "$dsc lists no sha256 for $orig"
  [ "$want" = "$got" ] || die "checksum mismatch for $orig: .dsc says $want, file is $got"
  if [ "$ver" = "4.2.1" ] && [ "$got" != "$CRIU_KNOWN_SHA256" ]; then
    die "checksum of $orig differs from the one tern pinned for 4.2.1"
  fi
  log "criu $ver source verified (sha256 $got)"
  rm -rf "criu-$ver"
  tar -xf "$orig"
  patch_criu "criu-$ver"
  log "building criu $ver (about a minute)"
  # RUNDIR: where CRIU keeps criu.kdat, the cache of its kernel probes (25-50 ms
  # a run without it); tern's agent keeps that directory on a tmpfs.
  make -C "criu-$ver" -j"$(nproc)" RUNDIR="$CRIU_RUNDIR" criu >"$work/criu-build.log" 2>&1 \
    || die "criu build failed, see $work/criu-build.log"
  mkdir -p "$PREFIX/criu/images"
  install -m 0755 "criu-$ver/criu/criu" "$PREFIX/criu/criu"
  cp "criu-$ver"/images/*.proto "$PREFIX/criu/images/"
  criu_patch_stamp >"$PREFIX/criu/patches"
  # Keep the extracted tree: the compatibility harness builds CRIU's zdtm tests from it.
  ln -sfn "$work/criu-$ver" "$PREFIX/criu/source"
  criu_ok || die "installed criu does not report a version >= $CRIU_MIN"
  log "criu installed at $PREFIX/criu/criu"
}

install_rootfs() {
  local rf="$PREFIX/rootfs/busybox"
  if [ -x "$rf/bin/busybox" ]; then return 0; fi
  log "preparing the default busybox rootfs at $rf"
  local tmp="$rf.tmp.$$"
  rm -rf "$tmp"
  mkdir -p "$tmp"/{bin,sbin,etc,proc,dev,sys,tmp,root,run,var}
  cp /bin/busybox "$tmp/bin/busybox"
  local applet
  for applet in $("$tmp/bin/busybox" --list); do
    [ -e "$tmp/bin/$applet" ] || ln -s busybox "$tmp/bin/$applet"
  done
  echo 'root:x:0:0:root:/root:/bin/sh' >"$tmp/etc/passwd"
  echo 'root:x:0:' >"$tmp/etc/group"
  chmod 1777 "$tmp/tmp"
  rm -rf "$rf"
  mv "$tmp" "$rf"
}

install_node() {
  cd "$ROOT"
  local stamp="node_modules/.tern-lock-sha"
  local want
  want="$(sha256sum package-lock.json | cut -d' ' -f1)"
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    log "npm ci"
    npm ci --no-audit --no-fund --loglevel=error >/dev/null
    echo "$want" >"$stamp"
  fi
  log "building TypeScript"
  npm run --silent build
  install_app
}

# The daemons and the CLI run from a root-owned copy ($PREFIX/app: the build, the wire
# contract and the production dependencies), not from the checkout: whoever may write
# the checkout must not thereby own every host. Copied again only when the build or
# the dependencies changed.
install_app() {
  local app="$PREFIX/app" new="$PREFIX/app.new" stamp="$PREFIX/app/.build-sha" want d b
  want="$(cd "$ROOT" && { sha256sum package-lock.json proto/tern.proto; find dist -type f -print0 | sort -z | xargs -0 sha256sum; } | sha256sum | cut -d' ' -f1)"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    :
  else
    log "installing the build into $app"
    rm -rf "$new"
    mkdir -p "$new/proto" "$new/node_modules"
    cp -a "$ROOT/dist" "$new/dist"
    cp "$ROOT/proto/tern.proto" "$new/proto/"
    cp "$ROOT/package.json" "$new/"
    (cd "$ROOT" && npm ls --omit=dev --all --parseable 2>/dev/null) | sed "s|^$ROOT/||" |
      grep -E '^node_modules/(@[^/]+/)?[^/]+$' | while read -r d; do
      mkdir -p "$new/$(dirname "$d")"
      cp -a "$ROOT/$d" "$new/$d"
    done
    chown -R root:root "$new"
    chmod -R go-w "$new"
    echo "$want" >"$new/.build-sha"
    rm -rf "$app.old"
    [ -d "$app" ] && mv "$app" "$app.old"
    mv "$new" "$app"
    rm -rf "$app.old"
  fi
  for b in tern migrate tern-agent tern-coordinator; do
    ln -sfn "$app/dist/bin/$b.js" "/usr/local/bin/$b"
  done
}

# Every TCP port tern serves speaks mutual TLS, so a machine needs certificates
# before its daemons can start. Without a cluster CA in $PKI yet, this machine
# gets one of its own, with certificates for the coordinator, the operator
# `admin` and this host's agent (its short host name): enough for one machine.
# A fleet keeps one CA: its certificates copied into $PKI are used as they are
# (README, "Installing on a fleet"). An existing CA is never touched.
install_pki() {
  local host
  if [ -f "$PKI/ca.crt" ]; then
    return
  fi
  host="$(hostname -s)"
  log "making a cluster CA for this machine in $PKI (coordinator, operator admin, agent $host)"
  /usr/local/bin/tern ca init --dir "$PKI" >/dev/null
  /usr/local/bin/tern ca issue --coordinator coordinator --dir "$PKI" >/dev/null
  /usr/local/bin/tern ca issue --operator admin --dir "$PKI" >/dev/null
  /usr/local/bin/tern ca issue --host "$host" --dir "$PKI" >/dev/null ||
    log "no agent certificate for '$host' (not a valid tern host name): issue one with tern ca issue --host NAME --dir $PKI"
}

main() {
  local with_node=1
  [ "${1:-}" = "--no-node" ] && with_node=0
  install_debs "${RUNTIME_DEBS[@]}" "${COMPAT_DEBS[@]}" "${TEST_DEBS[@]}"
  install_etcd
  install_criu
  install_rootfs
  if [ "$with_node" = 1 ]; then
    install_node
    install_pki
  fi
  log "ok: criu $("$PREFIX/criu/criu" --version | sed -n 's/^Version: *//p') at $PREFIX/criu/criu"
}

main "$@"
