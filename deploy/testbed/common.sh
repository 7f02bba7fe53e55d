# Sourced by deploy/testbed.sh: settings, paths and state of the local testbed, and the helpers
# every part uses (logging, root and lock checks, pids and pid files, daemon logs, testbed.env).
# Runs on source: fills in the TERN_* defaults and refuses a dangerous TERN_TESTBED_DIR.

TERN_TESTBED_DIR="${TERN_TESTBED_DIR:-/var/lib/tern/testbed}"
TERN_SOCKET="${TERN_SOCKET:-/run/tern/coordinator.sock}"
TERN_NODE="${TERN_NODE:-node}"
TERN_ROOT="${TERN_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
TERN_CRIU="${TERN_CRIU:-/opt/tern/criu/criu}"
TERN_TESTBED_EXTRA_AGENT_ARGS="${TERN_TESTBED_EXTRA_AGENT_ARGS:-}"

SW_NS=tern-sw
COORD_NS=tern-coord
COORD_IP=10.77.0.1
COORD_PORT=7700
AGENT_PORT=7701
# Prometheus metrics (plain HTTP) of every daemon, on its underlay address.
METRICS_PORT=7790
LAN_CIDR=10.78.0.0/24
LETTERS=(A B C D E F G H)
LOCK_FILE=/run/lock/tern-testbed.lock
# With --ha: a second coordinator (its own netns, state and underlay address) and a
# three-member etcd cluster (each member in its own netns) that both coordinators use.
COORD2_NS=tern-coord2
COORD2_IP=10.77.0.2
ETCD_MEMBERS=(etcd1 etcd2 etcd3)
ETCD_CLIENT_PORT=2379
ETCD_PEER_PORT=2380
# The leader's lease: a dead leader is replaced within about this many seconds. It outlasts
# an etcd leader election (about 1-2 s after a member dies), during which renewals stall.
HA_LEASE_TTL=5

SOCKET_WAIT_SEC=15
HOSTS_WAIT_SEC=20
STOP_WAIT_SEC=5

log() { printf 'testbed: %s\n' "$*" >&2; }
die() { printf 'testbed: error: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------------------------------------
# paths

[ -n "$TERN_TESTBED_DIR" ] || die "TERN_TESTBED_DIR is empty"
TB="$(realpath -m -- "$TERN_TESTBED_DIR")"
case "$TB" in
  / | /bin | /boot | /dev | /etc | /home | /lib | /lib64 | /opt | /proc | /root | /run | /sbin | \
    /srv | /sys | /tmp | /usr | /var | /var/lib | /var/tmp | /usr/local | /var/lib/tern)
    die "refusing to use TERN_TESTBED_DIR=$TB (it is removed by 'down'); pick a dedicated directory" ;;
esac
SOCK="$(realpath -m -- "$TERN_SOCKET")"
LOGS="$TB/logs"
PIDS="$TB/pids"
CMDS="$TB/cmd"
ENV_FILE="$TB/testbed.env"
# A tmpfs for the agents' migration images (--fast-dir).
FAST="$TB/fast"
# Where tern's CRIU keeps its kernel-feature cache (kernel/kdat.ts; deploy/install.sh),
# and the mark that up mounted a tmpfs there, which down then unmounts.
CRIU_RUNDIR=/run/tern/criu
KDAT_MOUNTED="$TB/.kdat-mounted"
# The testbed's cluster CA and certificates (core/pki.ts; `tern ca`).
PKI="$TB/pki"
STATE_FILE="$TB/.up-complete"

# The testbed's CA, a certificate per host, the coordinator's and the operator "admin"'s.
make_pki() { # host...
  local h ca=("$TERN_NODE" "$TERN_ROOT/dist/bin/tern.js" ca)
  "${ca[@]}" init --dir "$PKI" >/dev/null || die "cannot make the testbed CA in $PKI"
  "${ca[@]}" issue --dir "$PKI" --coordinator coordinator >/dev/null || die "cannot issue the coordinator certificate"
  "${ca[@]}" issue --dir "$PKI" --operator admin >/dev/null || die "cannot issue the operator certificate"
  for h in "$@"; do
    "${ca[@]}" issue --dir "$PKI" --host "$h" >/dev/null || die "cannot issue the certificate of $h"
  done
}

# etcd member number i (0-based): its netns and underlay address; all client URLs.
etcd_ns() { printf 'tern-%s' "${ETCD_MEMBERS[$1]}"; }
etcd_ip() { printf '10.77.0.%s' "$((4 + $1))"; }
etcd_endpoints() {
  local i out=()
  for ((i = 0; i < ${#ETCD_MEMBERS[@]}; i++)); do out+=("https://$(etcd_ip "$i"):$ETCD_CLIENT_PORT"); done
  local IFS=,
  printf '%s' "${out[*]}"
}

# Certificates of the etcd members (role etcd, their underlay address as a subjectAltName).
make_etcd_pki() {
  local i ca=("$TERN_NODE" "$TERN_ROOT/dist/bin/tern.js" ca)
  for ((i = 0; i < ${#ETCD_MEMBERS[@]}; i++)); do
    "${ca[@]}" issue --dir "$PKI" --etcd "${ETCD_MEMBERS[$i]}" --ip "$(etcd_ip "$i")" >/dev/null ||
      die "cannot issue the certificate of ${ETCD_MEMBERS[$i]}"
  done
}

# Host number i (0-based): its name, its underlay address and its br0 address.
host_name() { printf 'host%s' "${LETTERS[$1]}"; }
host_underlay_ip() { printf '10.77.0.%s' "$((11 + $1))"; }
host_bridge_ip() { printf '10.78.0.%s' "$((241 + $1))"; }

# ---------------------------------------------------------------------------------------------
# small helpers

need_root() { [ "$(id -u)" = 0 ] || die "run as root (network namespaces, CRIU)"; }

take_lock() {
  mkdir -p "$(dirname "$LOCK_FILE")"
  exec {LOCK_FD}>"$LOCK_FILE"
  flock -w 60 "$LOCK_FD" || die "another deploy/testbed.sh is running (lock $LOCK_FILE)"
}

# Close every fd above 2. The machine hands processes stray inherited fds (seen: 10, 251) that
# make CRIU refuse to dump the daemons' descendants, and our own lock fd must not leak either.
close_stray_fds() {
  local f fd
  for f in /proc/self/fd/*; do
    fd="${f##*/}"
    [[ "$fd" =~ ^[0-9]+$ ]] || continue
    ((fd > 2)) || continue
    { exec {fd}>&-; } 2>/dev/null || true
  done
}

cmdline_of() { tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null; }

# pid is alive (and not a zombie)
alive() {
  local pid="$1" stat
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  stat="$(cat "/proc/$pid/stat" 2>/dev/null)" || return 1
  stat="${stat##*) }"
  [ "${stat:0:1}" != Z ]
}

# pid is alive and its command line contains the given string
pid_runs() {
  local pid="$1" want="$2" cmd
  alive "$pid" || return 1
  cmd="$(cmdline_of "$pid")" || return 1
  [[ "$cmd" == *"$want"* ]]
}

read_pid() {
  local f="$PIDS/$1.pid" pid
  [ -f "$f" ] || return 1
  pid="$(tr -dc '0-9' <"$f")"
  [ -n "$pid" ] || return 1
  printf '%s' "$pid"
}

wait_dead() { # pid seconds
  local pid="$1" n=$(($2 * 10))
  while ((n-- > 0)); do
    alive "$pid" || return 0
    sleep 0.1
  done
  ! alive "$pid"
}

tail_log() {
  local name="$1" lines="${2:-20}" f="$LOGS/$1.log"
  if [ -s "$f" ]; then
    printf -- '----- last %s lines of %s -----\n' "$lines" "$f" >&2
    tail -n "$lines" "$f" >&2
    printf -- '-----\n' >&2
  else
    printf -- '----- %s: (empty or missing) -----\n' "$f" >&2
  fi
}

load_env() {
  [ -f "$ENV_FILE" ] || die "testbed is not up ($ENV_FILE missing)"
  TESTBED_HOSTS=""
  # shellcheck disable=SC1090
  . "$ENV_FILE"
  read -r -a HOSTS <<<"$TESTBED_HOSTS"
  HA="${TESTBED_HA:-0}"
}

# The daemons a testbed runs besides its agents: the coordinator(s) and, with --ha, etcd.
control_daemons() {
  if [ "${HA:-0}" = 1 ]; then
    printf '%s\n' "${ETCD_MEMBERS[@]}" coordinator coordinator2
  else
    echo coordinator
  fi
}

check_host_arg() {
  local want="${1:-}" h
  [ -n "$want" ] || die "missing <host> argument"
  load_env
  for h in "${HOSTS[@]}"; do [ "$h" = "$want" ] && return 0; done
  die "unknown host '$want' (testbed hosts: ${HOSTS[*]})"
}
