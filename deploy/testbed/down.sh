# Sourced by deploy/testbed.sh: `down`. Stops the daemons, kills what they left (container
# trees, shims, criu runs on testbed state), unmounts and removes the state dir, deletes the
# namespaces and the coordinator's socket. A no-op when nothing is up.

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

# The agents' container cgroups (kernel/cgroups.ts): <our cgroup>/tern-<host>/<container>,
# in the memory and pids hierarchies (v1) or the unified one (v2). Each is empty once its
# container is dead; a cgroup whose last task is still exiting gets a few tries.
remove_cgroups() {
  local h host list path mnt opts dir c try
  local -a hosts=()
  shopt -s nullglob
  for h in "$TB"/hosts/*/; do h="${h%/}"; hosts+=("${h##*/}"); done
  shopt -u nullglob
  ((${#hosts[@]})) || return 0
  while IFS=: read -r _ list path; do
    mnt=""
    if [ -z "$list" ]; then
      mnt="$(findmnt -rn -t cgroup2 -o TARGET 2>/dev/null | head -n1)"
    elif [[ ",$list," == *,memory,* || ",$list," == *,pids,* ]]; then
      while read -r t opts; do
        [[ ",$opts," == *",$list,"* ]] && { mnt="$t"; break; }
      done < <(findmnt -rn -t cgroup -o TARGET,OPTIONS 2>/dev/null)
    fi
    [ -n "$mnt" ] || continue
    for host in "${hosts[@]}"; do
      dir="$mnt${path%/}/tern-$host"
      [ -d "$dir" ] || continue
      for try in 1 2 3 4 5 6 7 8 9 10; do
        shopt -s nullglob
        for c in "$dir"/*/; do rmdir "$c" 2>/dev/null || true; done
        shopt -u nullglob
        rmdir "$dir" 2>/dev/null && break
        sleep 0.2
      done
      [ -d "$dir" ] && log "warning: could not remove cgroup $dir"
    done
  done </proc/self/cgroup
  for host in "${hosts[@]}"; do
    if [ -d "/run/tern/cgroup.tern-$host" ]; then rm -rf --one-file-system -- "/run/tern/cgroup.tern-$host"; fi
  done
  return 0
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
    stop_daemons coordinator coordinator2
    stop_daemons "${ETCD_MEMBERS[@]}"
  fi
  kill_containers
  kill_criu
  remove_cgroups
  unmount_under_tb
  if [ -f "$KDAT_MOUNTED" ]; then
    if umount -l "$CRIU_RUNDIR" 2>/dev/null; then log "unmounted $CRIU_RUNDIR"; else log "warning: could not unmount $CRIU_RUNDIR"; fi
  fi
  delete_netns
  rm -rf --one-file-system -- "$TB"
  [ -e "$TB" ] && log "warning: could not remove $TB completely"
  if [ -S "$SOCK" ] || [ -e "$SOCK" ]; then rm -f -- "$SOCK"; fi
  log "down"
}
