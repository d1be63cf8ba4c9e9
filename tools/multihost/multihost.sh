#!/usr/bin/env bash
# Runs a distgan coordinator and N workers as separate "hosts": one Linux network namespace each,
# joined by veth pairs on a bridge, optionally with shaped links.
# Needs root (CI has it). Prints the coordinator's output; its last line names the run directory.
#
#   tools/multihost/multihost.sh [--workers N] [--delay 5ms] [--rate 1gbit] [--shaper netem|tbf] -- <coordinator flags>
#
# --shaper netem (the default) puts `tc netem` delay and/or rate on each host's outgoing side.
# --shaper tbf rate-limits with a token bucket instead (`sch_tbf`, in kernels that lack netem),
# on both sides of each host's link, so every host has a full-duplex link of --rate each way, like
# a switch port; it has no delay, so it takes --rate and refuses --delay.
#
# Exit codes: 0 trained, 1 training failed, 2 bad flags, 77 namespaces (or the shaper asked for)
# unavailable.
set -euo pipefail

workers=2
delay=""
rate=""
shaper="netem"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --workers) workers="$2"; shift 2 ;;
    --delay) delay="$2"; shift 2 ;;
    --rate) rate="$2"; shift 2 ;;
    --shaper) shaper="$2"; shift 2 ;;
    --) shift; break ;;
    *) echo "multihost: unknown flag $1 (flags for the coordinator go after --)" >&2; exit 2 ;;
  esac
done

case "$shaper" in
  netem) ;;
  tbf)
    [[ -n "$rate" ]] || { echo "multihost: --shaper tbf needs --rate" >&2; exit 2; }
    [[ -z "$delay" ]] || { echo "multihost: --shaper tbf cannot add delay (use netem for --delay)" >&2; exit 2; }
    ;;
  *) echo "multihost: --shaper must be netem or tbf, got $shaper" >&2; exit 2 ;;
esac

root="$(cd "$(dirname "$0")/../.." && pwd)"
coordinator_cli="$root/apps/coordinator/dist/cli.js"
worker_cli="$root/apps/worker/dist/cli.js"
[[ -f "$coordinator_cli" && -f "$worker_cli" ]] || { echo "multihost: build first (npm run build)" >&2; exit 2; }

tag="dg$$"
bridge="${tag}br"
subnet="10.$(( ($$ >> 8) % 200 + 20 )).$(( $$ % 250 ))"
token="$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')"
namespaces=()
pids=()

# With tbf, what the coordinator's link did: "overlimits" counts packets the bucket held back.
report_shaping() {
  [[ "$shaper" == tbf && ${#namespaces[@]} -gt 0 ]] || return 0
  local out in
  out=$(ip netns exec "${tag}h1" tc -s qdisc show dev eth0 2>/dev/null | grep -o 'Sent .*)' || true)
  in=$(tc -s qdisc show dev "${tag}v1" 2>/dev/null | grep -o 'Sent .*)' || true)
  echo "multihost: coordinator link out: ${out:-no tbf stats}" >&2
  echo "multihost: coordinator link in: ${in:-no tbf stats}" >&2
}

cleanup() {
  report_shaping
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  for ns in "${namespaces[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
  ip link del "$bridge" 2>/dev/null || true
}
trap cleanup EXIT

if ! ip netns add "${tag}probe" 2>/dev/null; then
  echo "multihost: cannot create network namespaces here (needs root and CAP_SYS_ADMIN)" >&2
  exit 77
fi
ip netns del "${tag}probe"

ip link add "$bridge" type bridge
ip link set "$bridge" up

# host 1 is the coordinator, hosts 2.. are workers
add_host() {
  local index=$1 ns="${tag}h$1"
  ip netns add "$ns"
  namespaces+=("$ns")
  ip link add "${tag}v$index" type veth peer name "${tag}p$index"
  ip link set "${tag}p$index" netns "$ns"
  ip link set "${tag}v$index" master "$bridge" up
  ip netns exec "$ns" ip link set lo up
  ip netns exec "$ns" ip link set "${tag}p$index" name eth0
  ip netns exec "$ns" ip addr add "$subnet.$index/24" dev eth0
  ip netns exec "$ns" ip link set eth0 up
  if [[ "$shaper" == tbf ]]; then
    # A token bucket on each end's egress: eth0 in the namespace shapes what the host sends, the
    # bridge-side veth what it receives. The 64 KB bucket holds one GSO segment (tbf splits
    # larger ones) and lets little more than that through faster than --rate.
    local err
    if ! err=$(ip netns exec "$ns" tc qdisc add dev eth0 root tbf rate "$rate" burst 64kb latency 200ms 2>&1) \
      || ! err=$(tc qdisc add dev "${tag}v$index" root tbf rate "$rate" burst 64kb latency 200ms 2>&1); then
      echo "multihost: cannot shape with tc tbf (module sch_tbf missing, or a bad --rate \"$rate\"): $err" >&2
      exit 77
    fi
  elif [[ -n "$delay" || -n "$rate" ]]; then
    local args=()
    [[ -n "$delay" ]] && args+=(delay "$delay")
    [[ -n "$rate" ]] && args+=(rate "$rate")
    if ! ip netns exec "$ns" tc qdisc add dev eth0 root netem "${args[@]}" 2>/dev/null; then
      echo "multihost: tc netem is not available in this kernel (module sch_netem)" >&2
      exit 77
    fi
  fi
}

for i in $(seq 1 $((workers + 1))); do add_host "$i"; done

port=8080
DISTGAN_TOKEN="$token" ip netns exec "${tag}h1" node "$coordinator_cli" --host "$subnet.1" --port "$port" --workers 0 "$@" &
coordinator=$!
pids+=("$coordinator")
for i in $(seq 2 $((workers + 1))); do
  DISTGAN_TOKEN="$token" ip netns exec "${tag}h$i" node "$worker_cli" --connect "ws://$subnet.1:$port" --name "host$i" --give-up-after 60 &
  pids+=("$!")
done

set +e
wait "$coordinator"
status=$?
set -e
exit $(( status == 0 ? 0 : 1 ))
