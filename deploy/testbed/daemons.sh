# Sourced by deploy/testbed.sh: the coordinator and agents as daemons. Recording their command
# lines, starting one in its namespace, stopping them by pid file (only while the pid still runs
# the script we started), and waiting for the coordinator's socket and for agents to show as up.

# The script a daemon runs: coordinator[2] -> tern-coordinator.js, etcdN -> etcd,
# hostX -> tern-agent.js
daemon_script() {
  case "$1" in
    coordinator*) echo tern-coordinator.js ;;
    etcd*) echo etcd ;;
    *) echo tern-agent.js ;;
  esac
}

daemon_pid() { # prints the pid if the daemon is running
  local pid
  pid="$(read_pid "$1")" || return 1
  pid_runs "$pid" "$(daemon_script "$1")" || return 1
  printf '%s' "$pid"
}

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

wait_socket() { # waits for the coordinator's socket file (the leader's, with --ha)
  local pid n=$((SOCKET_WAIT_SEC * 10))
  pid="$(read_pid coordinator)" || die "coordinator pid file missing"
  while ((n-- > 0)); do
    [ -e "$SOCK" ] && return 0
    if ! alive "$pid" && ! coordinator_running; then
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

coordinator_running() { daemon_pid coordinator >/dev/null || daemon_pid coordinator2 >/dev/null; }

# Waits until the etcd cluster answers on every member.
wait_etcd() {
  local deadline=$((SECONDS + SOCKET_WAIT_SEC)) m
  while ! ip netns exec "$(etcd_ns 0)" etcdctl --endpoints "$(etcd_endpoints)" --cacert "$PKI/ca.crt" \
    --cert "$PKI/operator/admin.crt" --key "$PKI/operator/admin.key" --dial-timeout 1s \
    endpoint health >/dev/null 2>&1; do
    for m in "${ETCD_MEMBERS[@]}"; do
      daemon_pid "$m" >/dev/null || { tail_log "$m" 20; die "$m exited during startup"; }
    done
    ((SECONDS < deadline)) || { tail_log etcd1 20; die "etcd did not become healthy within ${SOCKET_WAIT_SEC}s"; }
    sleep 0.3
  done
}
