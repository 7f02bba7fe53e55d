# Sourced by deploy/testbed.sh: `status` and single-daemon control for debugging and fault tests
# (`stop-agent`, `start-agent`, `restart-agent`, `restart-coordinator`). Restarts reuse the command
# lines `up` recorded.

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
  [ -f "$ENV_FILE" ] && load_env
  shopt -s nullglob
  local -a pidfiles=()
  for name in $(control_daemons); do pidfiles+=("$PIDS/$name.pid"); done
  for f in "${pidfiles[@]}" "$PIDS"/host*.pid; do
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

cmd_stop_agent() {
  need_root
  check_host_arg "${1:-}"
  take_lock
  stop_daemon "$1"
}

# Waits for an agent just started to register, unless --no-wait or no coordinator runs.
await_agent() { # host [--no-wait]
  [ "${2:-}" = --no-wait ] && return 0
  if coordinator_running; then
    wait_hosts_up "$1"
    log "$1 is up"
  else
    log "coordinator is not running; not waiting for $1 to register"
  fi
}

cmd_start_agent() { # host [--no-wait]
  need_root
  check_host_arg "${1:-}"
  take_lock
  start_daemon "$1"
  await_agent "$1" "${2:-}"
}

cmd_restart_agent() { # host [--no-wait]
  need_root
  check_host_arg "${1:-}"
  take_lock
  stop_daemon "$1"
  start_daemon "$1"
  await_agent "$1" "${2:-}"
}

cmd_restart_coordinator() { # [--no-wait]
  need_root
  load_env
  take_lock
  stop_daemon coordinator
  # Ours: the coordinator that owned it is gone (with --ha the leader owns it, maybe another).
  [ "$HA" = 1 ] || rm -f -- "$SOCK"
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

# With --ha: start a control daemon again (a coordinator or an etcd member) after a fault test
# stopped or killed it. A coordinator comes back as a follower unless no one leads.
cmd_start_daemon() { # name
  need_root
  load_env
  local want="${1:-}" d
  for d in $(control_daemons); do
    if [ "$d" = "$want" ]; then
      take_lock
      start_daemon "$want"
      return 0
    fi
  done
  die "unknown daemon '$want' (this testbed's: $(control_daemons | tr '\n' ' '))"
}
