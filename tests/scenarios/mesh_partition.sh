#!/usr/bin/env bash
# Scenario: a partition that heals (issue 6). Two network namespaces made
# here, joined by a veth pair; n0..n2 run in the first, n3..n5 in the
# second (six real wardend processes, membership period 500 ms):
#   all six see each other alive -> the link goes down: each side declares
#   the other dead -> a notice is published on each side and reaches its
#   own side only -> the link comes back: the sides find each other again
#   (a dead member is pinged every few periods and refutes) and gossip's
#   catch-up brings every record to every node.
# Exits 77 (ctest SKIP) only when network namespaces are unavailable.
# Usage: mesh_partition.sh WARDEND WARDENCTL
set -euo pipefail
WARDEND=$1
WARDENCTL=$2
HERE=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d /tmp/warden-mesh-XXXXXX)
# shellcheck source=mesh_lib.sh
source "$HERE/mesh_lib.sh"
tag=$$
nsa=wdmesh-a-$tag
nsb=wdmesh-b-$tag
va=wdma$tag
vb=wdmb$tag
net=10.$((100 + RANDOM % 100)).$((RANDOM % 250))
cleanup() {
    mesh_cleanup
    ip netns del "$nsa" 2> /dev/null || true
    ip netns del "$nsb" 2> /dev/null || true
    ip link del "$va" 2> /dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT
step() { echo "--- $* ($SECONDS s)"; }
if ! ip netns add "$nsa" 2> /dev/null; then
    echo "SKIP: cannot create network namespaces"
    exit 77
fi
ip netns add "$nsb"
ip link add "$va" type veth peer name "$vb"
ip link set "$va" netns "$nsa"
ip link set "$vb" netns "$nsb"
ip -n "$nsa" addr add "$net.1/24" dev "$va"
ip -n "$nsb" addr add "$net.2/24" dev "$vb"
for ns in "$nsa" "$nsb"; do ip -n "$ns" link set lo up; done
ip -n "$nsa" link set "$va" up
ip -n "$nsb" link set "$vb" up

side() { if [ "$1" -lt 3 ]; then echo a; else echo b; fi; }
host_of() { if [ "$1" -lt 3 ]; then echo "$net.1"; else echo "$net.2"; fi; }
ns_of() { if [ "$1" -lt 3 ]; then echo "$nsa"; else echo "$nsb"; fi; }
MESH_HOST_FN=host_of

step "six nodes, three on each side of a veth pair"
mesh_make 6
for i in 0 1 2 3 4 5; do mesh_start "$i" ip netns exec "$(ns_of "$i")"; done
for i in 0 1 2 3 4 5; do mesh_wait_up "$i"; done
for i in 0 1 2 3 4 5; do
    mesh_wait 15 mesh_sees "$i" alive n0 n1 n2 n3 n4 n5 || mesh_fail "n$i does not see all six alive"
done

step "cut the link: each side declares the other dead"
ip -n "$nsa" link set "$va" down
for i in 0 1 2; do mesh_wait 20 mesh_sees "$i" dead n3 n4 n5 || mesh_fail "n$i: side b not dead"; done
for i in 3 4 5; do mesh_wait 20 mesh_sees "$i" dead n0 n1 n2 || mesh_fail "n$i: side a not dead"; done

step "publish on both sides; each record stays on its side"
ta="side-a-$RANDOM$RANDOM"
tb="side-b-$RANDOM$RANDOM"
mesh_ctl 0 mesh publish --text "$ta" > /dev/null || mesh_fail "publish at n0"
mesh_ctl 4 mesh publish --text "$tb" > /dev/null || mesh_fail "publish at n4"
mesh_wait 10 mesh_have_all "$ta" 0 1 2 || mesh_fail "'$ta' did not reach side a"
mesh_wait 10 mesh_have_all "$tb" 3 4 5 || mesh_fail "'$tb' did not reach side b"
for i in 3 4 5; do ! mesh_has_record "$i" "$ta" || mesh_fail "'$ta' crossed the cut to n$i"; done
for i in 0 1 2; do ! mesh_has_record "$i" "$tb" || mesh_fail "'$tb' crossed the cut to n$i"; done

step "heal: the sides rejoin and every record reaches every node"
ip -n "$nsa" link set "$va" up
heal=$SECONDS
for i in 0 1 2 3 4 5; do
    mesh_wait 40 mesh_sees "$i" alive n0 n1 n2 n3 n4 n5 || mesh_fail "n$i: not all six alive after heal"
done
echo "    all six alive everywhere $((SECONDS - heal)) s after the heal"
mesh_wait 30 mesh_have_all "$ta" 0 1 2 3 4 5 || mesh_fail "'$ta' did not reach every node"
mesh_wait 30 mesh_have_all "$tb" 0 1 2 3 4 5 || mesh_fail "'$tb' did not reach every node"
echo "    both records everywhere $((SECONDS - heal)) s after the heal"
mesh_cleanup
mesh_check_logs
echo "mesh_partition: all checks passed in $SECONDS s"
