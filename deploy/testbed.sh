#!/usr/bin/env bash
# tern local multi-host testbed: every "host" is a network namespace running one tern agent.
#
#   deploy/testbed.sh up [N] [--ha]          N hosts (1-8, default 2): hostA, hostB, ...;
#                                            --ha: 3 etcd members, 2 coordinators taking turns
#   deploy/testbed.sh down                   stop everything, delete namespaces and state
#   deploy/testbed.sh status                 namespaces, daemons, `tern hosts`
#   deploy/testbed.sh stop-agent <host>      stop one agent (SIGTERM; its containers keep running)
#   deploy/testbed.sh start-agent <host> [--no-wait]
#   deploy/testbed.sh restart-agent <host> [--no-wait]
#   deploy/testbed.sh restart-coordinator [--no-wait]
#   deploy/testbed.sh start-daemon <name>    with --ha: start coordinator2 or etcd1..3 again
#
# Layout (nothing is added to the root network namespace):
#   netns tern-sw      the "switch": bridges ul0 (underlay) and lan0 (container LAN), no addresses
#   netns tern-coord   veth ul 10.77.0.1/24 (peer ul-coord on ul0); runs the coordinator
#   with --ha: netns tern-coord2 (10.77.0.2) runs a second coordinator; tern-etcd1..3
#   (10.77.0.4-6) an etcd member each (TLS with the testbed CA); only the leading
#   coordinator listens, on its address and on the shared unix socket
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

# The parts live in deploy/testbed/, found from this script's own location (any cwd works):
#   common.sh   settings, paths, logging, pid files, testbed.env
#   net.sh      namespaces, bridges, veths
#   daemons.sh  starting, stopping and waiting for the coordinator and agents
#   up.sh, down.sh, control.sh   the subcommands
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
for part in common net daemons up down control; do
  # shellcheck source=/dev/null
  . "$HERE/testbed/$part.sh"
done
unset part

usage() {
  sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

main() {
  local cmd="${1:-}"
  [ $# -gt 0 ] && shift
  case "$cmd" in
    up) [ $# -le 2 ] || usage; cmd_up "$@" ;;
    down) cmd_down ;;
    status) cmd_status ;;
    stop-agent) cmd_stop_agent "$@" ;;
    start-agent) cmd_start_agent "$@" ;;
    restart-agent) cmd_restart_agent "$@" ;;
    restart-coordinator) cmd_restart_coordinator "$@" ;;
    start-daemon) cmd_start_daemon "$@" ;;
    -h | --help | help) usage ;;
    *) usage ;;
  esac
}

main "$@"
