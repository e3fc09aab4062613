#!/bin/sh
# Instructions per transferred byte of skbnet and smoltcp, by callgrind.
#
# Runs the TCP benchmark's fixed bulk transfer (tests/benches/tcp.rs,
# modes callgrind-skbnet and callgrind-smoltcp: 32 MiB one way between two
# hosts over a perfect nic-sim link, 64 KiB windows) under
# `valgrind --tool=callgrind`, counting only the instructions executed
# inside the transfer: the functions measured_skbnet_bulk and
# measured_smoltcp_bulk and everything they call (the stack, the
# application's copies in and out, and the simulation under the stack).
#
# Each stack runs twice. The first count is everything. The second leaves
# out the simulation, which real hardware does: for skbnet the simulated
# NIC's hardware model (SimNic's `tick`: DMA, checksum insertion and
# validation, TSO, LRO) and the link inside it; for smoltcp the link
# (`Link::send` and `Link::recv`). callgrind's --toggle-collect switches
# counting off on entry to those and on again on return.
#
# glibc's memcpy moves large blocks (4 KiB and up here) with `rep movsb`,
# which callgrind counts as one instruction per byte; smoltcp's 64 KiB
# socket-buffer copies would count 16 times what the same copy in vector
# moves does. GLIBC_TUNABLES below keeps every copy on the vector path, for
# both stacks, so the counts compare work rather than a counting artifact.
#
# Usage: tests/benches/callgrind.sh [how many top functions to list, default 20]
# Needs valgrind (apt-get install valgrind). The output files stay in
# target/callgrind/, for callgrind_annotate or kcachegrind.
set -eu

top=${1:-20}
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
command -v valgrind >/dev/null || { echo "valgrind is not installed" >&2; exit 1; }

bin=$(cargo bench -p skbnet-tests --bench tcp --no-run 2>&1 \
    | sed -n 's/.*Executable benches\/tcp.rs (\(.*\))$/\1/p' | tail -n 1)
[ -n "$bin" ] || { echo "could not build the tcp bench" >&2; exit 1; }

out=target/callgrind
mkdir -p "$out"

# run NAME MODE TOGGLE...: callgrind counting only inside the TOGGLE functions.
run() {
    name=$1 mode=$2
    shift 2
    toggles=""
    for t in "$@"; do toggles="$toggles --toggle-collect=$t"; done
    # shellcheck disable=SC2086 # one word per option
    GLIBC_TUNABLES=glibc.cpu.x86_rep_movsb_threshold=4294967295:glibc.cpu.x86_rep_stosb_threshold=4294967295 \
        valgrind --tool=callgrind --callgrind-out-file="$out/$name.out" $toggles \
        "$bin" "$mode" >"$out/$name.log" 2>"$out/$name.err"
}

run skbnet callgrind-skbnet '*measured_skbnet_bulk*'
run skbnet-stack callgrind-skbnet '*measured_skbnet_bulk*' '*NetDevice>::tick*'
run smoltcp callgrind-smoltcp '*measured_smoltcp_bulk*'
run smoltcp-stack callgrind-smoltcp '*measured_smoltcp_bulk*' '*link::Link<*>::send*' '*link::Link<*>::recv*'

ir() { sed -n 's/^totals: \([0-9]*\).*/\1/p' "$out/$1.out"; }
bytes() { sed -n 's/^bytes \([0-9]*\)$/\1/p' "$out/$1.log"; }
awk -v a="$(ir skbnet)" -v as="$(ir skbnet-stack)" -v ab="$(bytes skbnet)" \
    -v b="$(ir smoltcp)" -v bs="$(ir smoltcp-stack)" -v bb="$(bytes smoltcp)" 'BEGIN {
    printf "instructions per transferred byte (callgrind, %d MiB bulk transfer):\n", ab / 1048576
    printf "                 everything   without the simulated NIC and link\n"
    printf "  skbnet         %6.2f       %6.2f\n", a / ab, as / ab
    printf "  smoltcp        %6.2f       %6.2f\n", b / bb, bs / bb
    printf "  smoltcp/skbnet %6.2fx      %6.2fx\n", (b / bb) / (a / ab), (bs / bb) / (as / ab)
}'
for name in skbnet smoltcp; do
    echo
    echo "$name: top $top functions by instructions executed in them (self, everything counted)"
    callgrind_annotate "$out/$name.out" 2>/dev/null | grep -E '^ *[0-9,]+ \(' | sed -n "2,$((top + 1))p"
done
