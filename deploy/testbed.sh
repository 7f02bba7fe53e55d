#!/usr/bin/env bash
# tern local multi-host testbed: every "host" is a network namespace running one tern agent.
#
#   deploy/testbed.sh up [N]                 N hosts (1-8, default 2): hostA, hostB, ...
#   deploy/testbed.sh down                   stop everything, delete namespaces and state
#   deploy/testbed.sh status                 namespaces, daemons, `tern hosts`
#   deploy/testbed.sh stop-agent <host>      stop one agent (SIGTERM; its containers keep running)
#   deploy/testbed.sh start-agent <host> [--no-wait]
#   deploy/testbed.sh restart-agent <host> [--no-wait]
#   deploy/testbed.sh restart-coordinator [--no-wait]
#
# Layout (nothing is added to the root network namespace):
#   netns tern-sw      the "switch": bridges ul0 (underlay) and lan0 (container LAN), no addresses
#   netns tern-coord   veth ul 10.77.0.1/24 (peer ul-coord on ul0); runs the coordinator
#   netns tern-hostX   veth ul 10.77.0.(11+i)/24 (peer ul-hostX on ul0);
#                      bridge br0 10.78.0.(241+i)/24 with uplink veth lan (peer lan-hostX on lan0);
#                      runs the agent for hostX
# All br0 bridges share one L2 segment (10.78.0.0/24) through lan0, so a container keeps its
# address (10.78.0.10-200) when it moves between hosts.
#
# Environment (defaults):
#   TERN_TESTBED_DIR=/var/lib/tern/testbed   state, logs, pid files, testbed.env
#   TERN_SOCKET=/run/tern/coordinator.sock   coordinator's unix socket (used by the CLI)
#   TERN_NODE=node                           node binary
#   TERN_ROOT=<repo root>                    where dist/bin/*.js live
#   TERN_CRIU=/opt/tern/criu/criu
#   TERN_TESTBED_EXTRA_AGENT_ARGS=           appended to every agent command line (split on spaces)
#
# Restarts (restart-agent, start-agent, restart-coordinator) reuse the exact command line that
# `up` recorded in $TERN_TESTBED_DIR/cmd/, not the current environment.
#
# Tests source $TERN_TESTBED_DIR/testbed.env (TESTBED_HOSTS, TESTBED_NETNS_<host>,
# TESTBED_UNDERLAY_<host>, TESTBED_BRIDGE_IP_<host>, ...).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TERN_TESTBED_DIR="${TERN_TESTBED_DIR:-/var/lib/tern/testbed}"
TERN_SOCKET="${TERN_SOCKET:-/run/tern/coordinator.sock}"
TERN_NODE="${TERN_NODE:-node}"
TERN_ROOT="${TERN_ROOT:-$(cd "$HERE/.." && pwd)}"
TERN_CRIU="${TERN_CRIU:-/opt/tern/criu/criu}"
TERN_TESTBED_EXTRA_AGENT_ARGS="${TERN_TESTBED_EXTRA_AGENT_ARGS:-}"

SW_NS=tern-sw
COORD_NS=tern-coord
COORD_IP=10.77.0.1
COORD_PORT=7700
AGENT_PORT=7701
LAN_CIDR=10.78.0.0/24
LETTERS=(A B C D E F G H)
LOCK_FILE=/run/lock/tern-testbed.lock

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
STATE_FILE="$TB/.up-complete"

host_name() { printf 'host%s' "${LETTERS[$1]}"; }

# ---------------------------------------------------------------------------------------------
# small helpers

need_root() { [ "$(id -u)" = 0 ] || die "run as root (network namespaces, CRIU)"; }

take_lock() {
  mkdir -p "$(dirname "$LOCK_FILE")"
  exec {LOCK_FD}>"$LOCK_FILE"
  flock -w 60 "$LOCK_FD" || die "another deploy/testbed.sh is running (lock $LOCK_FILE)"
}

# Names of our network namespaces that currently exist.
our_netns() {
  local n
  while read -r n _; do
    case "$n" in
      "$SW_NS" | "$COORD_NS" | tern-host*) printf '%s\n' "$n" ;;
    esac
  done < <(ip netns list 2>/dev/null || true)
}

netns_exists() { [ -e "/run/netns/$1" ]; }

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

# The script a daemon runs: coordinator -> tern-coordinator.js, hostX -> tern-agent.js
daemon_script() {
  if [ "$1" = coordinator ]; then echo tern-coordinator.js; else echo tern-agent.js; fi
}

daemon_pid() { # prints the pid if the daemon is running
  local pid
  pid="$(read_pid "$1")" || return 1
  pid_runs "$pid" "$(daemon_script "$1")" || return 1
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

# ---------------------------------------------------------------------------------------------
# daemons

# Record a daemon's command: line 1 = netns, then one argv element per line.
write_cmd() { # name netns argv...
  local name="$1"
  shift
  mkdir -p "$CMDS"
  printf '%s\n' "$@" >"$CMDS/$name.argv"
}

start_daemon() { # name
  local name="$1" cmdf="$CMDS/$1.argv" logf="$LOGS/$1.log" pid ns
  local -a argv
  [ -f "$cmdf" ] || die "no recorded command for $name ($cmdf); is the testbed up?"
  if pid="$(daemon_pid "$name")"; then
    log "$name already running (pid $pid)"
    return 0
  fi
  mapfile -t argv <"$cmdf"
  ns="${argv[0]}"
  argv=("${argv[@]:1}")
  netns_exists "$ns" || die "network namespace $ns is missing; run down, then up"
  mkdir -p "$LOGS" "$PIDS"
  printf '=== %s testbed: starting %s in netns %s: %s\n' \
    "$(date '+%F %T')" "$name" "$ns" "${argv[*]}" >>"$logf"
  (
    exec </dev/null >>"$logf" 2>&1
    close_stray_fds
    # Not a process-group leader here (no job control), so setsid does not fork and
    # ip netns exec execs too: $! ends up being the node process itself.
    exec setsid ip netns exec "$ns" "${argv[@]}"
  ) &
  pid=$!
  disown "$pid" 2>/dev/null || true
  printf '%s\n' "$pid" >"$PIDS/$name.pid"
  log "started $name (pid $pid, log $logf)"
}

# Stop daemons by pid file: SIGTERM all of them, wait up to STOP_WAIT_SEC, then SIGKILL the rest.
# A pid is only signalled while its /proc/PID/cmdline still names the script we started.
stop_daemons() { # name...
  local name pf pid n
  local -a names=() pids=() left=()
  for name in "$@"; do
    pf="$PIDS/$name.pid"
    [ -f "$pf" ] || continue
    if pid="$(read_pid "$name")" && pid_runs "$pid" "$(daemon_script "$name")"; then
      kill -TERM "$pid" 2>/dev/null || true
      names+=("$name")
      pids+=("$pid")
    elif [ -n "${pid:-}" ] && alive "$pid"; then
      log "pid $pid in $pf no longer runs $(daemon_script "$name"); not signalling it"
    fi
    rm -f "$pf"
  done
  ((${#pids[@]})) || return 0
  n=$((STOP_WAIT_SEC * 10))
  while ((n-- > 0)); do
    left=()
    for pid in "${pids[@]}"; do alive "$pid" && left+=("$pid"); done
    ((${#left[@]})) || break
    sleep 0.1
  done
  for ((n = 0; n < ${#pids[@]}; n++)); do
    pid="${pids[$n]}"
    if alive "$pid"; then
      log "${names[$n]} (pid $pid) ignored SIGTERM for ${STOP_WAIT_SEC}s; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      wait_dead "$pid" 3 || log "warning: ${names[$n]} (pid $pid) is still alive after SIGKILL"
    fi
    log "stopped ${names[$n]} (pid $pid)"
  done
}

stop_daemon() { stop_daemons "$1"; }

# Is something accepting connections on the unix socket?
socket_live() {
  [ -S "$SOCK" ] || return 1
  timeout 3 "$TERN_NODE" -e '
    const s = require("net").connect(process.argv[1]);
    s.on("connect", () => process.exit(0));
    s.on("error", () => process.exit(1));' "$SOCK" </dev/null >/dev/null 2>&1
}

wait_socket() { # waits for the coordinator's socket file
  local pid n=$((SOCKET_WAIT_SEC * 10))
  pid="$(read_pid coordinator)" || die "coordinator pid file missing"
  while ((n-- > 0)); do
    [ -e "$SOCK" ] && return 0
    if ! alive "$pid"; then
      tail_log coordinator 20
      die "coordinator (pid $pid) exited before creating $SOCK"
    fi
    sleep 0.1
  done
  [ -e "$SOCK" ] && return 0
  tail_log coordinator 20
  die "coordinator did not create $SOCK within ${SOCKET_WAIT_SEC}s"
}

cli_hosts() {
  TERN_SOCKET="$SOCK" timeout 10 "$TERN_NODE" "$TERN_ROOT/dist/bin/tern.js" hosts </dev/null 2>/dev/null
}

# Does `tern hosts` output show host $2 on a line that has the word "up"?
host_shown_up() { # output host
  awk -v h="$2" '
    BEGIN { hre = "(^|[^[:alnum:]_-])" h "([^[:alnum:]_-]|$)"; ure = "(^|[^[:alnum:]_-])up([^[:alnum:]_-]|$)" }
    $0 ~ hre && $0 ~ ure { found = 1 }
    END { exit !found }' <<<"$1"
}

wait_hosts_up() { # hosts...
  local deadline=$((SECONDS + HOSTS_WAIT_SEC)) out h missing pid
  while :; do
    missing=()
    out="$(cli_hosts)" || out=""
    for h in "$@"; do
      host_shown_up "$out" "$h" || missing+=("$h")
    done
    ((${#missing[@]} == 0)) && return 0
    for h in "${missing[@]}"; do
      if ! pid="$(read_pid "$h")" || ! alive "$pid"; then
        tail_log "$h" 20
        die "agent $h exited before it showed up in 'tern hosts' (run deploy/testbed.sh down to clean up)"
      fi
    done
    if ! pid="$(read_pid coordinator)" || ! alive "$pid"; then
      tail_log coordinator 20
      die "coordinator exited (run deploy/testbed.sh down to clean up)"
    fi
    if ((SECONDS >= deadline)); then
      log "timed out after ${HOSTS_WAIT_SEC}s waiting for: ${missing[*]}"
      log "last 'tern hosts' output:"
      printf '%s\n' "${out:-(none; the CLI failed)}" >&2
      for h in "$@"; do tail_log "$h" 15; done
      tail_log coordinator 10
      die "not every host came up (run deploy/testbed.sh down to clean up)"
    fi
    sleep 0.5
  done
}

load_env() {
  [ -f "$ENV_FILE" ] || die "testbed is not up ($ENV_FILE missing)"
  TESTBED_HOSTS=""
  # shellcheck disable=SC1090
  . "$ENV_FILE"
  read -r -a HOSTS <<<"$TESTBED_HOSTS"
}

check_host_arg() {
  local want="${1:-}" h
  [ -n "$want" ] || die "missing <host> argument"
  load_env
  for h in "${HOSTS[@]}"; do [ "$h" = "$want" ] && return 0; done
  die "unknown host '$want' (testbed hosts: ${HOSTS[*]})"
}

# ---------------------------------------------------------------------------------------------
# up

setup_network() {
  local n="$1" i h ns
  log "creating namespaces and links"
  ip netns add "$SW_NS"
  ip -n "$SW_NS" link set lo up
  ip -n "$SW_NS" link add ul0 type bridge
  ip -n "$SW_NS" link add lan0 type bridge
  ip -n "$SW_NS" link set ul0 up
  ip -n "$SW_NS" link set lan0 up

  ip netns add "$COORD_NS"
  ip -n "$COORD_NS" link set lo up
  ip -n "$SW_NS" link add ul-coord type veth peer name ul netns "$COORD_NS"
  ip -n "$SW_NS" link set ul-coord master ul0
  ip -n "$SW_NS" link set ul-coord up
  ip -n "$COORD_NS" addr add "$COORD_IP/24" dev ul
  ip -n "$COORD_NS" link set ul up

  for ((i = 0; i < n; i++)); do
    h="$(host_name "$i")"
    ns="tern-$h"
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    ip netns exec "$ns" sysctl -qw net.ipv4.ip_forward=0
    # underlay
    ip -n "$SW_NS" link add "ul-$h" type veth peer name ul netns "$ns"
    ip -n "$SW_NS" link set "ul-$h" master ul0
    ip -n "$SW_NS" link set "ul-$h" up
    ip -n "$ns" addr add "10.77.0.$((11 + i))/24" dev ul
    ip -n "$ns" link set ul up
    # container bridge + LAN uplink
    ip -n "$ns" link add br0 type bridge
    ip -n "$ns" addr add "10.78.0.$((241 + i))/24" dev br0
    ip -n "$ns" link set br0 up
    ip -n "$SW_NS" link add "lan-$h" type veth peer name lan netns "$ns"
    ip -n "$SW_NS" link set "lan-$h" master lan0
    ip -n "$SW_NS" link set "lan-$h" up
    ip -n "$ns" link set lan master br0
    ip -n "$ns" link set lan up
  done
}

write_env() {
  local n="$1" i h tmp="$ENV_FILE.tmp"
  {
    echo "# generated by deploy/testbed.sh up on $(date '+%F %T'); sourced by tests"
    printf 'TESTBED_DIR=%q\n' "$TB"
    printf 'TESTBED_SOCKET=%q\n' "$SOCK"
    printf 'TESTBED_COORD_NETNS=%s\n' "$COORD_NS"
    printf 'TESTBED_COORDINATOR=%s\n' "$COORD_IP:$COORD_PORT"
    printf 'TESTBED_LAN=%s\n' "$LAN_CIDR"
    printf 'TESTBED_HOSTS="%s"\n' "${HOSTS[*]}"
    for ((i = 0; i < n; i++)); do
      h="$(host_name "$i")"
      printf 'TESTBED_NETNS_%s=tern-%s\n' "$h" "$h"
      printf 'TESTBED_UNDERLAY_%s=10.77.0.%s\n' "$h" "$((11 + i))"
      printf 'TESTBED_BRIDGE_IP_%s=10.78.0.%s\n' "$h" "$((241 + i))"
      printf 'TESTBED_AGENT_%s=10.77.0.%s:%s\n' "$h" "$((11 + i))" "$AGENT_PORT"
    done
  } >"$tmp"
  mv "$tmp" "$ENV_FILE"
}

print_summary() {
  local i h
  echo "tern testbed is up: ${#HOSTS[@]} host(s)"
  printf '  %-12s %-12s %-18s %-14s %s\n' HOST NETNS UNDERLAY BR0 PID
  printf '  %-12s %-12s %-18s %-14s %s\n' coordinator "$COORD_NS" "$COORD_IP:$COORD_PORT" - \
    "$(read_pid coordinator 2>/dev/null || echo -)"
  for ((i = 0; i < ${#HOSTS[@]}; i++)); do
    h="${HOSTS[$i]}"
    printf '  %-12s %-12s %-18s %-14s %s\n' "$h" "tern-$h" "10.77.0.$((11 + i)):$AGENT_PORT" \
      "10.78.0.$((241 + i))" "$(read_pid "$h" 2>/dev/null || echo -)"
  done
  echo "  socket: $SOCK"
  echo "  logs:   $LOGS"
  echo "  env:    $ENV_FILE"
}

cmd_up() {
  local n="${1:-2}" i h f cur
  local -a extra
  if ! [[ "$n" =~ ^[1-8]$ ]]; then
    die "N must be a number from 1 to 8 (got '$n')"
  fi
  need_root
  take_lock

  if [ -f "$STATE_FILE" ] && [ -f "$ENV_FILE" ]; then
    load_env
    cur="${#HOSTS[@]}"
    if [ "$cur" = "$n" ]; then
      log "already up with $n host(s)"
      cmd_status || true
      return 0
    fi
    die "testbed is already up with $cur host(s) (${HOSTS[*]}); run 'deploy/testbed.sh down' first"
  fi
  if [ -n "$(our_netns)" ] || [ -f "$ENV_FILE" ] || [ -d "$PIDS" ]; then
    die "a previous or partial testbed exists (namespaces: $(our_netns | tr '\n' ' ')); run 'deploy/testbed.sh down' first"
  fi

  command -v "$TERN_NODE" >/dev/null || die "node not found (TERN_NODE=$TERN_NODE)"
  for f in tern-coordinator.js tern-agent.js tern.js; do
    [ -f "$TERN_ROOT/dist/bin/$f" ] || die "$TERN_ROOT/dist/bin/$f missing; build first (npm run build)"
  done
  [ -x "$TERN_CRIU" ] || log "warning: $TERN_CRIU is not executable (run deploy/install.sh)"
  if [ -e "$SOCK" ]; then
    socket_live && die "something already listens on $SOCK; stop it or set TERN_SOCKET"
    rm -f "$SOCK"
  fi

  HOSTS=()
  for ((i = 0; i < n; i++)); do HOSTS+=("$(host_name "$i")"); done

  trap 'rc=$?; if ((rc != 0)); then log "up failed; inspect $LOGS and run deploy/testbed.sh down"; fi' EXIT

  mkdir -p "$LOGS" "$PIDS" "$CMDS" "$TB/coordinator" "$(dirname "$SOCK")"
  for h in "${HOSTS[@]}"; do mkdir -p "$TB/hosts/$h"; done
  setup_network "$n"
  write_env "$n"

  # Record the exact command lines (reused by restart-*).
  set -f
  # shellcheck disable=SC2206
  extra=($TERN_TESTBED_EXTRA_AGENT_ARGS)
  set +f
  write_cmd coordinator "$COORD_NS" "$TERN_NODE" "$TERN_ROOT/dist/bin/tern-coordinator.js" \
    --listen "$COORD_IP:$COORD_PORT" --socket "$SOCK" --state-dir "$TB/coordinator"
  for ((i = 0; i < n; i++)); do
    h="${HOSTS[$i]}"
    write_cmd "$h" "tern-$h" "$TERN_NODE" "$TERN_ROOT/dist/bin/tern-agent.js" \
      --host "$h" --listen "10.77.0.$((11 + i)):$AGENT_PORT" --coordinator "$COORD_IP:$COORD_PORT" \
      --bridge br0 --lan "$LAN_CIDR" --state-dir "$TB/hosts/$h" --criu "$TERN_CRIU" \
      ${extra[@]+"${extra[@]}"}
  done

  start_daemon coordinator
  wait_socket
  for h in "${HOSTS[@]}"; do start_daemon "$h"; done
  log "waiting up to ${HOSTS_WAIT_SEC}s for ${HOSTS[*]} to show as up in 'tern hosts'"
  wait_hosts_up "${HOSTS[@]}"
  sleep 1 # catch daemons that register and then crash right away
  for h in coordinator "${HOSTS[@]}"; do
    daemon_pid "$h" >/dev/null || { tail_log "$h" 20; die "$h exited during startup"; }
  done

  echo "up $n" >"$STATE_FILE"
  trap - EXIT
  print_summary
}

# ---------------------------------------------------------------------------------------------
# down

json_int() { # file key -> top-level integer field
  local v=""
  if command -v python3 >/dev/null 2>&1; then
    v="$(python3 -c '
import json, sys
try:
    d = json.load(open(sys.argv[1]))
    v = d.get(sys.argv[2]) if isinstance(d, dict) else None
    if isinstance(v, int) and not isinstance(v, bool):
        print(v)
except Exception:
    pass' "$1" "$2" 2>/dev/null)" || v=""
  fi
  if [ -z "$v" ]; then
    v="$(grep -o "\"$2\"[[:space:]]*:[[:space:]]*[0-9][0-9]*" "$1" 2>/dev/null | head -n1 | grep -o '[0-9]*$')" || v=""
  fi
  [[ "$v" =~ ^[0-9]+$ ]] && printf '%s' "$v"
}

kill_containers() {
  local f pid shim selfns ns cmd
  selfns="$(readlink /proc/self/ns/pid)"
  shopt -s nullglob
  for f in "$TB"/hosts/*/containers/*/container.json; do
    pid="$(json_int "$f" pid)" || pid=""
    if [ -n "$pid" ] && [ "$pid" -gt 1 ] && [ -d "/proc/$pid" ]; then
      ns="$(readlink "/proc/$pid/ns/pid" 2>/dev/null)" || ns=""
      if [ -n "$ns" ] && [ "$ns" != "$selfns" ]; then
        kill -KILL "$pid" 2>/dev/null && log "killed container init $pid ($f)"
      fi
    fi
    shim="$(json_int "$f" shimPid)" || shim=""
    if [ -n "$shim" ] && [ "$shim" -gt 1 ]; then
      cmd="$(cmdline_of "$shim")" || cmd=""
      if [[ "$cmd" == *tern-shim* ]]; then
        kill -KILL "$shim" 2>/dev/null && log "killed shim $shim ($f)"
      fi
    fi
  done
  shopt -u nullglob
}

# criu processes working on testbed state (their cmdline or cwd is inside $TB)
kill_criu() {
  local p pid comm cmd cwd argv0
  for p in /proc/[0-9]*; do
    pid="${p#/proc/}"
    [ "$pid" = "$$" ] && continue
    comm="$(cat "$p/comm" 2>/dev/null)" || continue
    cmd="$(cmdline_of "$pid")" || continue
    argv0="${cmd%% *}"
    [ "$comm" = criu ] || [ "${argv0##*/}" = criu ] || continue
    cwd="$(readlink "$p/cwd" 2>/dev/null)" || cwd=""
    if [[ "$cmd" == *"$TB/"* || "$cmd" == *"$TB "* || "$cwd" == "$TB" || "$cwd" == "$TB/"* ]]; then
      kill -KILL "$pid" 2>/dev/null && log "killed criu $pid"
    fi
  done
}

unmount_under_tb() {
  local t
  while IFS= read -r t; do
    [ -n "$t" ] || continue
    if umount -l "$t" 2>/dev/null; then log "unmounted $t"; else log "warning: could not unmount $t"; fi
  done < <(findmnt -rn -o TARGET 2>/dev/null | while IFS= read -r t; do
    t="$(printf '%b' "$t")" # findmnt -r escapes blanks as \x20
    if [ "$t" = "$TB" ] || [[ "$t" == "$TB/"* ]]; then
      printf '%s\t%s\n' "$(tr -dc / <<<"$t" | wc -c)" "$t"
    fi
  done | sort -rn -k1,1 | cut -f2-)
}

delete_netns() {
  local ns pids n
  for ns in $(our_netns); do
    pids="$(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ')" || pids=""
    if [ -n "${pids// /}" ]; then
      log "killing processes left in $ns: $pids"
      # shellcheck disable=SC2086
      kill -KILL $pids 2>/dev/null || true
      n=30
      while ((n-- > 0)) && [ -n "$(ip netns pids "$ns" 2>/dev/null)" ]; do sleep 0.1; done
    fi
    ip netns del "$ns" || log "warning: could not delete netns $ns"
  done
}

cmd_down() {
  local f name had=0
  need_root
  take_lock
  [ -d "$TB" ] && had=1
  [ -n "$(our_netns)" ] && had=1
  ((had)) || return 0 # nothing is up: quiet no-op

  log "tearing down"
  if [ -d "$PIDS" ]; then
    local -a agents=()
    shopt -s nullglob
    for f in "$PIDS"/host*.pid; do
      name="${f##*/}"
      agents+=("${name%.pid}")
    done
    shopt -u nullglob
    ((${#agents[@]} == 0)) || stop_daemons "${agents[@]}"
    stop_daemon coordinator
  fi
  kill_containers
  kill_criu
  unmount_under_tb
  delete_netns
  rm -rf --one-file-system -- "$TB"
  [ -e "$TB" ] && log "warning: could not remove $TB completely"
  if [ -S "$SOCK" ] || [ -e "$SOCK" ]; then rm -f -- "$SOCK"; fi
  log "down"
}

# ---------------------------------------------------------------------------------------------
# status

cmd_status() {
  local ns f name pid out rc=0
  ns="$(our_netns | tr '\n' ' ')"
  if [ -z "$ns" ] && [ ! -f "$ENV_FILE" ]; then
    echo "tern testbed: not up"
    return 1
  fi
  if [ -f "$STATE_FILE" ]; then
    echo "tern testbed: $(cat "$STATE_FILE") ($TB)"
  else
    echo "tern testbed: incomplete ($TB); run deploy/testbed.sh down"
    rc=1
  fi
  echo "namespaces: ${ns:-none}"
  echo "daemons:"
  shopt -s nullglob
  for f in "$PIDS"/coordinator.pid "$PIDS"/host*.pid; do
    name="${f##*/}"
    name="${name%.pid}"
    if pid="$(daemon_pid "$name")"; then
      printf '  %-12s running (pid %s)\n' "$name" "$pid"
    else
      printf '  %-12s NOT running (pid file says %s)\n' "$name" "$(read_pid "$name" || echo '?')"
      rc=1
    fi
  done
  shopt -u nullglob
  if [ -f "$ENV_FILE" ]; then
    load_env
    for name in "${HOSTS[@]}"; do
      [ -f "$PIDS/$name.pid" ] || { printf '  %-12s stopped\n' "$name"; rc=1; }
    done
  fi
  if [ -f "$TERN_ROOT/dist/bin/tern.js" ] && out="$(cli_hosts)"; then
    echo "tern hosts:"
    printf '%s\n' "$out" | sed 's/^/  /'
  else
    echo "tern hosts: (CLI not available or coordinator not answering)"
    rc=1
  fi
  return "$rc"
}

# ---------------------------------------------------------------------------------------------
# single-daemon control (fault tests)

coordinator_running() { daemon_pid coordinator >/dev/null; }

cmd_stop_agent() {
  need_root
  check_host_arg "${1:-}"
  take_lock
  stop_daemon "$1"
}

cmd_start_agent() { # host [--no-wait]
  need_root
  check_host_arg "${1:-}"
  take_lock
  start_daemon "$1"
  if [ "${2:-}" != --no-wait ]; then
    if coordinator_running; then
      wait_hosts_up "$1"
      log "$1 is up"
    else
      log "coordinator is not running; not waiting for $1 to register"
    fi
  fi
}

cmd_restart_agent() { # host [--no-wait]
  need_root
  check_host_arg "${1:-}"
  take_lock
  stop_daemon "$1"
  start_daemon "$1"
  if [ "${2:-}" != --no-wait ]; then
    if coordinator_running; then
      wait_hosts_up "$1"
      log "$1 is up"
    else
      log "coordinator is not running; not waiting for $1 to register"
    fi
  fi
}

cmd_restart_coordinator() { # [--no-wait]
  need_root
  load_env
  take_lock
  stop_daemon coordinator
  rm -f -- "$SOCK" # ours: the coordinator that owned it is gone
  start_daemon coordinator
  wait_socket
  if [ "${1:-}" != --no-wait ]; then
    local h
    local -a running=()
    for h in "${HOSTS[@]}"; do daemon_pid "$h" >/dev/null && running+=("$h"); done
    if ((${#running[@]})); then
      log "waiting up to ${HOSTS_WAIT_SEC}s for ${running[*]} to show as up again"
      wait_hosts_up "${running[@]}"
    fi
  fi
  log "coordinator restarted"
}

usage() {
  sed -n '2,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

main() {
  local cmd="${1:-}"
  [ $# -gt 0 ] && shift
  case "$cmd" in
    up) [ $# -le 1 ] || usage; cmd_up "$@" ;;
    down) cmd_down ;;
    status) cmd_status ;;
    stop-agent) cmd_stop_agent "$@" ;;
    start-agent) cmd_start_agent "$@" ;;
    restart-agent) cmd_restart_agent "$@" ;;
    restart-coordinator) cmd_restart_coordinator "$@" ;;
    -h | --help | help) usage ;;
    *) usage ;;
  esac
}

main "$@"
