#!/usr/bin/env bash
# Throughput of skbnet behind a TUN device, measured by stock iperf3 against
# the stack's iperf service (`skbnet tun --services iperf`), beside Linux to
# Linux over a veth pair as the reference, in the same run on the same
# machine:
#
#   veth                 iperf3 -c in namespace A, iperf3 -s in namespace B
#   TUN, offloads on     iperf3 -c in the shim's namespace, skbnet serving
#   TUN, offloads off    the same with `skbnet tun --no-offload`
#
# Each path is measured both ways: Linux -> peer (iperf3 -c) and
# peer -> Linux (iperf3 -c -R); the peer is skbnet or, for veth, the second
# Linux namespace. The table gives Mbit/s as iperf3's receiver counted it,
# and each TUN figure as a ratio of the veth figure of the same direction.
#
# Everything runs in network namespaces this script creates (and deletes on
# exit, also on failure or Ctrl-C): no packet leaves them.
#
# Usage: host-shim/benches/tun.sh [SECONDS per measurement, default 5]
# Needs root, /dev/net/tun, iproute2 and iperf3. Builds the release binary,
# unless SKBNET_BIN names one to measure.
set -euo pipefail

secs=${1:-5}
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

[ "$(id -u)" = 0 ] || { echo "tun.sh: needs root (network namespaces, TUN)" >&2; exit 1; }
[ -e /dev/net/tun ] || { echo "tun.sh: /dev/net/tun does not exist" >&2; exit 1; }
for t in ip iperf3; do
    command -v "$t" >/dev/null || { echo "tun.sh: $t is not installed" >&2; exit 1; }
done

if [ -n "${SKBNET_BIN:-}" ]; then
    bin=$SKBNET_BIN
else
    cargo build --release -p skbnet-host-shim --bin skbnet >&2
    bin=$root/target/release/skbnet
fi

tag=skbnet-bench-$$
ns_a=$tag-a
ns_b=$tag-b
ns_t=$tag-tun
out=$(mktemp -d /tmp/skbnet-bench.XXXXXX)
pids=()

cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    for ns in "$ns_a" "$ns_b" "$ns_t"; do ip netns del "$ns" 2>/dev/null || true; done
    rm -rf "$out"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# iperf3's receiver figure in Mbit/s: `iperf3 -c ... -f m`, last "receiver" line.
mbits() {
    awk '/receiver/ { for (i = 1; i < NF; i++) if ($(i + 1) == "Mbits/sec") v = $i } END { print v }'
}

# measure NS SERVER [-R]: one iperf3 run from NS to SERVER.
measure() {
    local ns=$1 server=$2
    shift 2
    ip netns exec "$ns" iperf3 -c "$server" -t "$secs" -f m --connect-timeout 5000 "$@" | mbits
}

# The reference: two namespaces joined by a veth pair.
ip netns add "$ns_a"
ip netns add "$ns_b"
ip link add veth-a netns "$ns_a" type veth peer name veth-b netns "$ns_b"
ip -n "$ns_a" addr add 10.8.0.1/24 dev veth-a
ip -n "$ns_b" addr add 10.8.0.2/24 dev veth-b
for ns in "$ns_a" "$ns_b"; do ip -n "$ns" link set lo up; done
ip -n "$ns_a" link set veth-a up
ip -n "$ns_b" link set veth-b up
ip netns exec "$ns_b" iperf3 -s -1 >/dev/null &
pids+=($!)
sleep 0.5
veth_fwd=$(measure "$ns_a" 10.8.0.2)
ip netns exec "$ns_b" iperf3 -s -1 >/dev/null &
pids+=($!)
sleep 0.5
veth_rev=$(measure "$ns_a" 10.8.0.2 -R)

# start_shim OPTIONS...: skbnet tun in its namespace, once it says it is ready.
start_shim() {
    ip netns exec "$ns_t" "$bin" tun --dev tun0 --addr 10.7.0.2/24 --host-addr 10.7.0.1/24 \
        --services iperf "$@" >"$out/shim.log" 2>&1 &
    shim=$!
    pids+=("$shim")
    for _ in $(seq 100); do
        grep -q '^ready:' "$out/shim.log" && return 0
        sleep 0.1
    done
    echo "tun.sh: skbnet tun did not start:" >&2
    cat "$out/shim.log" >&2
    exit 1
}

# stop_shim: Ctrl-C, and wait for its clean stop.
stop_shim() {
    kill -INT "$shim"
    wait "$shim" || { echo "tun.sh: skbnet tun failed:" >&2; cat "$out/shim.log" >&2; exit 1; }
}

ip netns add "$ns_t"
ip -n "$ns_t" link set lo up
start_shim
on_fwd=$(measure "$ns_t" 10.7.0.2)
on_rev=$(measure "$ns_t" 10.7.0.2 -R)
stop_shim
start_shim --no-offload
off_fwd=$(measure "$ns_t" 10.7.0.2)
off_rev=$(measure "$ns_t" 10.7.0.2 -R)
stop_shim

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "-" }'; }
row() { printf '%-28s %12s %8s %14s %8s\n' "$1" "$2" "$3" "$4" "$5"; }

echo
echo "iperf3, ${secs} s each, Mbit/s as the receiver counted ($(nproc) cores, $(uname -r))"
row "path" "Linux->peer" "vs veth" "peer->Linux" "vs veth"
row "veth, Linux <-> Linux" "$veth_fwd" "1.00x" "$veth_rev" "1.00x"
row "TUN, skbnet, offloads on" "$on_fwd" "$(ratio "$on_fwd" "$veth_fwd")" "$on_rev" "$(ratio "$on_rev" "$veth_rev")"
row "TUN, skbnet, offloads off" "$off_fwd" "$(ratio "$off_fwd" "$veth_fwd")" "$off_rev" "$(ratio "$off_rev" "$veth_rev")"
