#!/usr/bin/env bash
# Scenario: a read-only observer written from docs/PROTOCOL.md alone
# (tests/interop/observer.py) follows a cluster of real wardend processes.
#   4 nodes on loopback admit one observer key (mesh/observers) ->
#   notices are published and blocks committed ->
#   the observer subscribes at n0 and n1 from height 1, verifies every
#   record and block it is pushed (canonical msgpack, envelope signatures
#   against the genesis it parsed itself, block ids, records_root, prev
#   links, seeds, commit certificates) and sees at least MIN_BLOCKS blocks
#   and every notice, gossiped and committed ->
#   a frame the observer sends on a channel other than its subscription's
#   is refused by the node and counted (CONS_ERR_OBSERVER_SEND) ->
#   a key the nodes do not list is refused by their ZAP handler.
# With MODE vrf the genesis sets proposer_vrf = 1: the observer checks v2
# blocks (claims, VRF proofs, the v2 seed rule) as it is pushed them, and
# with WARDEN_VERIFY a ledger export is re-checked offline by warden-verify
# and by `observer.py check-export`.
# Usage: interop_observer.sh WARDEND WARDENCTL OBSERVER_PY [MODE [WARDEN_VERIFY]]
set -euo pipefail
WARDEND=$1
WARDENCTL=$2
OBSERVER=$3
MODE=${4:-round-robin}
N=4
MIN_BLOCKS=${MIN_BLOCKS:-8}
HERE=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d /tmp/warden-interop-XXXXXX)
# shellcheck source=mesh_lib.sh
source "$HERE/mesh_lib.sh"
trap 'mesh_cleanup; rm -rf "$tmp"' EXIT
step() { echo "--- $* ($SECONDS s)"; }

# summary INDEX KEY: a number from node INDEX's `peers --json` ("self", the summary).
summary() {
    mesh_ctl "$1" peers --json > "$tmp/sum.$1.json" 2> /dev/null || mesh_fail "peers at n$1"
    json "$tmp/sum.$1.json" "j['self']['$2']"
}

step "an observer key, $N nodes that admit it"
obs_pk=$("$PY" "$OBSERVER" keygen --out "$tmp/observer.key")
stranger_pk=$("$PY" "$OBSERVER" keygen --out "$tmp/stranger.key")
[ ${#obs_pk} -eq 64 ] && [ ${#stranger_pk} -eq 64 ] || mesh_fail "keygen"
mesh_make "$N"
[ "$MODE" = vrf ] && mesh_genesis mesh-test --param proposer_vrf=1 --param proposers=2
for ((i = 0; i < N; i++)); do
    cat >> "$tmp/n$i/conf.d/50-mesh.conf" <<EOF
    observers = "$obs_pk"
EOF
done
for ((i = 0; i < N; i++)); do mesh_start "$i"; done
for ((i = 0; i < N; i++)); do mesh_wait_up "$i"; done
grep -q "1 observer key(s) admitted" "$tmp/n0/wardend.log" || mesh_fail "n0 did not admit the key"

step "notices are published and committed"
for ((i = 0; i < N; i++)); do
    mesh_ctl "$i" mesh publish --text "before-$i" > /dev/null || mesh_fail "publish at n$i"
done

step "the observer subscribes at n0 and n1 and verifies what it is pushed"
obs_port=$(mesh_free_port_base 1) || mesh_fail "no free port"
rejected_before=$(summary 0 rejected)
"$PY" "$OBSERVER" run --key "$tmp/observer.key" --genesis "$tmp/genesis" \
    --node "n0=tcp://127.0.0.1:${MESH_PORTS[0]}" --node "n1=tcp://127.0.0.1:${MESH_PORTS[1]}" \
    --listen "tcp://127.0.0.1:$obs_port" --from 1 --min-blocks "$MIN_BLOCKS" \
    --expect-notice before-0 --expect-notice before-3 --expect-gossiped during-2 \
    --misbehave --timeout 25 > "$tmp/observer.out" 2>&1 &
obs_pid=$!
sleep 1
mesh_ctl 2 mesh publish --text "during-2" > /dev/null || mesh_fail "publish at n2"
if ! wait "$obs_pid"; then
    cat "$tmp/observer.out" >&2
    mesh_fail "the observer failed"
fi
cat "$tmp/observer.out"
grep -q "^OK$" "$tmp/observer.out" || mesh_fail "the observer did not finish"
if [ "$MODE" = vrf ]; then
    grep -Eq "proposer claims: [1-9][0-9]* with the VRF proof checked" "$tmp/observer.out" ||
        mesh_fail "the observer checked no proposer claim"
fi
grep -q "subscribed at tcp://127.0.0.1:$obs_port" "$tmp/n0/wardend.log" ||
    mesh_fail "n0 did not log the subscription"

step "the observer's frame on the gossip channel was refused and counted"
rejected_after=$(summary 0 rejected)
[ "$rejected_after" -gt "$rejected_before" ] ||
    mesh_fail "n0 did not count the observer's frame ($rejected_before -> $rejected_after)"
grep -q "observer ${obs_pk:0:8}: frame refused: CONS_ERR_OBSERVER_SEND" "$tmp/n0/wardend.log" ||
    mesh_fail "n0 did not name the reason"
echo "    n0 rejected $rejected_before -> $rejected_after"

step "a key the nodes do not list is refused by ZAP"
unknown_before=$(summary 1 zap_unknown)
"$PY" "$OBSERVER" probe --key "$tmp/stranger.key" --genesis "$tmp/genesis" \
    --node "n1=tcp://127.0.0.1:${MESH_PORTS[1]}" --timeout 10 ||
    mesh_fail "the unlisted key was not refused"
unknown_after=$(summary 1 zap_unknown)
[ "$unknown_after" -gt "$unknown_before" ] ||
    mesh_fail "n1 did not count the refusal ($unknown_before -> $unknown_after)"
"$PY" "$OBSERVER" probe --key "$tmp/observer.key" --genesis "$tmp/genesis" \
    --node "n1=tcp://127.0.0.1:${MESH_PORTS[1]}" --timeout 10 &&
    mesh_fail "the listed key was refused"

if [ -n "${5:-}" ]; then
    step "warden-verify and the observer re-check n1's ledger export offline"
    mesh_ctl 1 ledger export "$tmp/chain.msgpack" > /dev/null || mesh_fail "export at n1"
    "$5" ledger "$tmp/chain.msgpack" --genesis "$tmp/genesis" > "$tmp/wv" ||
        mesh_fail "warden-verify: $(cat "$tmp/wv")"
    grep -q "^verified: [1-9]" "$tmp/wv" || mesh_fail "warden-verify said: $(cat "$tmp/wv")"
    "$PY" "$OBSERVER" check-export --genesis "$tmp/genesis" "$tmp/chain.msgpack" > "$tmp/ce" ||
        mesh_fail "observer check-export: $(cat "$tmp/ce")"
    head -1 "$tmp/wv"
    cat "$tmp/ce"
fi

mesh_check_logs
step "done"
