#!/usr/bin/env bash
# Scenario: peers that must not get in (issue 6), against 4 real wardend
# processes on loopback whose genesis lists a fifth node, n4, that no
# wardend runs:
#   a python3-zmq client with a random CURVE key is refused by n0's ZAP
#   handler and counted (zap_unknown) ->
#   a python3 client holding n4's real keys (mesh_peer.py forger) keeps n4
#   alive in membership and sends every node gossip PUBLISH messages whose
#   notice records have corrupted signatures: every node bans n4, and no
#   node holds any of its records ->
#   a notice published afterwards still reaches the four ->
#   start-up refusals: a mesh/peers name not in the genesis, a probe
#   timeout not below the period, a node that is not in the genesis.
# Usage: mesh_misbehave.sh WARDEND WARDENCTL MESH_PEER_PY
set -euo pipefail
WARDEND=$1
WARDENCTL=$2
PEER_PY=$3
HERE=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d /tmp/warden-mesh-XXXXXX)
# shellcheck source=mesh_lib.sh
source "$HERE/mesh_lib.sh"
forger_pid=
trap '[ -n "$forger_pid" ] && kill "$forger_pid" 2>/dev/null; mesh_cleanup; rm -rf "$tmp"' EXIT
step() { echo "--- $* ($SECONDS s)"; }
RUN=(0 1 2 3)

step "4 of 5 genesis nodes start"
mesh_make 5
for i in "${RUN[@]}"; do mesh_start "$i"; done
for i in "${RUN[@]}"; do mesh_wait_up "$i"; done
chain=$(mesh_chain_id)

step "a random CURVE key is refused and counted"
"$PY" "$PEER_PY" unknown "$(mesh_endpoint 0)" "$(mesh_key 0 curve_pk)"
mesh_ctl 0 peers --json > "$tmp/p0.json"
unknown=$(json "$tmp/p0.json" "j['self']['zap_unknown']")
[ "$unknown" -ge 1 ] || mesh_fail "n0 counted no refused unknown key"
[ "$(json "$tmp/p0.json" "len(j['peers'])")" = 5 ] || mesh_fail "n0 lists a peer beyond the genesis"
echo "    n0 refused $unknown handshake(s) with an unknown key"

step "a peer with n4's real keys sends records with corrupted signatures"
targets=()
for i in "${RUN[@]}"; do targets+=("$(mesh_target "$i")"); done
"$PY" "$PEER_PY" forger "$tmp/n4" "$chain" 20 "${targets[@]}" > "$tmp/forger.out" 2>&1 &
forger_pid=$!
banned_everywhere() {
    local i
    for i in "${RUN[@]}"; do
        mesh_ctl "$i" peers --json > "$tmp/p$i.json" || return 1
        [ "$(json "$tmp/p$i.json" "[p['banned'] for p in j['peers'] if p['name']=='n4'][0]")" = True ] ||
            return 1
    done
}
mesh_wait 20 banned_everywhere || mesh_fail "n4 is not banned everywhere: $(cat "$tmp/forger.out")"
for i in "${RUN[@]}"; do
    inv=$(json "$tmp/p$i.json" "[p['invalid'] for p in j['peers'] if p['name']=='n4'][0]")
    [ "$inv" -ge 1 ] || mesh_fail "n$i blames n4 for nothing"
    echo "    n$i banned n4 after $inv invalid record(s)"
done
kill "$forger_pid" 2> /dev/null || true
wait "$forger_pid" 2> /dev/null || true
forger_pid=

step "none of n4's records reached anyone; the mesh still works"
text="after-$RANDOM$RANDOM"
mesh_ctl 1 mesh publish --text "$text" > /dev/null || mesh_fail "publish at n1"
mesh_wait 10 mesh_have_all "$text" "${RUN[@]}" || mesh_fail "'$text' did not reach the four"
for i in "${RUN[@]}"; do
    [ "$(json "$tmp/rec.$i.json" "[r['text'] for r in j if r['text'].startswith('evil-')]")" = "[]" ] ||
        mesh_fail "n$i holds a record of n4"
    [ "$(json "$tmp/rec.$i.json" "len([r for r in j if r['type'] == 'notice'])")" = 1 ] ||
        mesh_fail "n$i holds unexpected notices"
done

step "start-up refusals name their reason"
# refuse PATTERN DIR: wardend on DIR must stop with PATTERN in its log.
refuse() {
    local rc=0
    timeout 20 "$WARDEND" -c "$2/warden.conf" > /dev/null 2> "$tmp/refuse.log" || rc=$?
    [ "$rc" != 0 ] && [ "$rc" != 124 ] && grep -q -- "$1" "$tmp/refuse.log" ||
        mesh_fail "refusal '$1': rc $rc, $(tail -n 3 "$tmp/refuse.log")"
}
conf=$tmp/n4/conf.d/50-mesh.conf
cp "$conf" "$tmp/good.conf"
sed -i 's/^    peers = "/    peers = "nobody=tcp:\/\/127.0.0.1:1 /' "$conf"
refuse "mesh: mesh/peers: no node 'nobody' in the genesis" "$tmp/n4"
cp "$tmp/good.conf" "$conf"
sed -i 's/^    probe_timeout = .*/    probe_timeout = "900ms"/' "$conf"
refuse "mesh/probe_timeout must be below mesh/probe" "$tmp/n4"
"$WARDENCTL" init --state "$tmp/stranger" --name stranger > /dev/null
cp "$tmp/genesis" "$tmp/stranger/genesis"
mkdir -p "$tmp/stranger/conf.d"
cp "$tmp/good.conf" "$tmp/stranger/conf.d/50-mesh.conf"
refuse "this node (stranger) is not a node of the genesis" "$tmp/stranger"

mesh_cleanup
mesh_check_logs
echo "mesh_misbehave: all checks passed in $SECONDS s"
