# Sourced by deploy/testbed.sh: the testbed's network. Network namespaces for the switch, the
# coordinator and each host, the underlay and container-LAN bridges, the veths between them;
# and deleting all of it again.

# Names of our network namespaces that currently exist.
our_netns() {
  local n
  while read -r n _; do
    case "$n" in
      "$SW_NS" | "$COORD_NS" | "$COORD2_NS" | tern-host* | tern-etcd*) printf '%s\n' "$n" ;;
    esac
  done < <(ip netns list 2>/dev/null || true)
}

netns_exists() { [ -e "/run/netns/$1" ]; }

# A namespace on the underlay only: lo, and veth ul with ip (peer ul-<tag> on ul0).
underlay_ns() { # ns tag ip
  ip netns add "$1"
  ip -n "$1" link set lo up
  ip -n "$SW_NS" link add "ul-$2" type veth peer name ul netns "$1"
  ip -n "$SW_NS" link set "ul-$2" master ul0
  ip -n "$SW_NS" link set "ul-$2" up
  ip -n "$1" addr add "$3/24" dev ul
  ip -n "$1" link set ul up
}

# With --ha: the second coordinator's and the etcd members' namespaces.
setup_ha_network() {
  local i
  underlay_ns "$COORD2_NS" coord2 "$COORD2_IP"
  for ((i = 0; i < ${#ETCD_MEMBERS[@]}; i++)); do
    underlay_ns "$(etcd_ns "$i")" "${ETCD_MEMBERS[$i]}" "$(etcd_ip "$i")"
  done
}

setup_network() {
  local n="$1" i h ns
  log "creating namespaces and links"
  ip netns add "$SW_NS"
  ip -n "$SW_NS" link set lo up
  ip -n "$SW_NS" link add ul0 type bridge
  ip -n "$SW_NS" link add lan0 type bridge
  ip -n "$SW_NS" link set ul0 up
  ip -n "$SW_NS" link set lan0 up

  underlay_ns "$COORD_NS" coord "$COORD_IP"

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
    ip -n "$ns" addr add "$(host_underlay_ip "$i")/24" dev ul
    ip -n "$ns" link set ul up
    # container bridge + LAN uplink
    ip -n "$ns" link add br0 type bridge
    ip -n "$ns" addr add "$(host_bridge_ip "$i")/24" dev br0
    ip -n "$ns" link set br0 up
    ip -n "$SW_NS" link add "lan-$h" type veth peer name lan netns "$ns"
    ip -n "$SW_NS" link set "lan-$h" master lan0
    ip -n "$SW_NS" link set "lan-$h" up
    ip -n "$ns" link set lan master br0
    ip -n "$ns" link set lan up
  done
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
