#!/usr/bin/env bash
# Scenario: a node joins and a node leaves through the ledger (issue 8
# item 1; docs/OPERATIONS.md "Members: add, remove, rotate").
#   4 genesis nodes (short epochs) commit blocks; n4, made with `wardenctl
#   init` and the cluster's genesis but in no genesis, starts with one
#   member's endpoint (mesh/bootstrap) ->
#   `wardenctl member request` on n4 writes its join-request, `wardenctl
#   member admit` on n0 seals the join and gossips it ->
#   once committed every member admits n4's CURVE key, n4 learns the others'
#   endpoints (hello) and syncs the chain by block sync, its self-evidence
#   is certified, `wardenctl members` shows it as a member and then, by the
#   epoch rules, as a validator; all five ledgers agree ->
#   n3 runs `wardenctl member leave`: once its leave is committed it is
#   `left`, drops out of the validator set, and once out of the set of the
#   next height the others drop it from their peers (ZAP); the cluster
#   keeps committing and the ledgers still agree; `wardenctl ledger verify`
#   and warden-verify (an export with the join and the leave) accept it.
# Usage: ledger_join.sh WARDEND WARDENCTL WARDEN_VERIFY
set -euo pipefail
WARDEND=$1
WARDENCTL=$2
WARDEN_VERIFY=$3
N=4       # genesis nodes n0..n3
NEW=4     # the joining node
LEAVER=3  # the node that leaves
EPOCH_BLOCKS=4
LOOKBACK=1
HERE=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d /tmp/warden-join-XXXXXX)
# shellcheck source=mesh_lib.sh
source "$HERE/mesh_lib.sh"
trap 'mesh_cleanup; [ -n "${KEEP_TMP:-}" ] || rm -rf "$tmp"' EXIT
step() { echo "--- $* ($SECONDS s)"; }
sha256() { sha256sum "$1" | cut -d' ' -f1; }

# member AT NAME: NAME's state in node AT's `wardenctl members` (none: not listed).
member() {
    mesh_ctl "$1" members --json 2> /dev/null | "$PY" -c "
import json, sys
m = {r['name']: r for r in json.load(sys.stdin)['members']}
print(m['$2']['state'] if '$2' in m else 'none')" || echo none
}
# member_everywhere NAME STATE NODES...: every listed node says STATE for NAME.
member_everywhere() {
    local name=$1 state=$2 i
    shift 2
    for i in "$@"; do [ "$(member "$i" "$name")" = "$state" ] || return 1; done
}
# rep AT EXPR: EXPR over node AT's reputation table `r` (rows by name).
rep() {
    mesh_ctl "$1" reputation --json 2> /dev/null | "$PY" -c "
import json, sys
r = {n['name']: n for n in json.load(sys.stdin)['nodes']}
print($2)"
}
# agree AT EXPR: EXPR over node AT's agreement status `j`.
agree() {
    mesh_ctl "$1" agree status --json 2> /dev/null \
        | "$PY" -c "import json,sys; j=json.load(sys.stdin); print($2)"
}
# peer_listed AT NAME: node AT's mesh lists NAME among its peers.
peer_listed() {
    mesh_ctl "$1" peers --json > "$tmp/peers.$1.json" 2> /dev/null || return 1
    [ "$(json "$tmp/peers.$1.json" "any(p['name'] == '$2' for p in j['peers'])")" = True ]
}
not_peer_listed() { ! peer_listed "$@"; }
certified() { [ "$(rep "$1" "r.get('n$NEW', {}).get('passed', 0) >= 1")" = True ]; }
tip_grows() { # tip_grows AT FROM: node AT's tip is above FROM + 2
    [ "$(ledger_tip "$1")" -gt $(($2 + 2)) ]
}

step "$N genesis nodes and a fifth node made with the same genesis"
mesh_make "$N"
"$WARDENCTL" init --state "$tmp/n$NEW" --name "n$NEW" > /dev/null
certs=()
for ((i = 0; i < N; i++)); do certs+=(--node "$tmp/n$i/node.cert"); done
"$WARDENCTL" genesis create --name join-test "${certs[@]}" --param epoch_blocks=$EPOCH_BLOCKS \
    --param seed_lookback=$LOOKBACK --param agree_idle_ms=250 --force --out "$tmp/genesis" > /dev/null
exe=$(readlink -f "$WARDEND")
digests="\"$exe\": [\"$(sha256 "$exe")\"]"
for ((i = 0; i <= NEW; i++)); do
    cp "$tmp/genesis" "$tmp/n$i/genesis"
    printf 'app v1\n' > "$tmp/n$i/app.bin"
    digests+=", \"$tmp/n$i/app.bin\": [\"$(sha256 "$tmp/n$i/app.bin")\"]"
done
cat > "$tmp/policy.json" <<PEOF
{"meta": {"version": 1, "generator": 0}, "release": 0,
 "digests": {$digests},
 "excludes": ["^warden:", ".*/node\\\\.cert\$", ".*/genesis\$"], "keyrings": {},
 "ima": {"ignored_keyrings": [], "log_hash_alg": "sha1", "dm_policy": null},
 "ima-buf": {}, "verification-keys": ""}
PEOF
port=$(mesh_free_port_base 1) || mesh_fail "no free port"
mkdir -p "$tmp/n$NEW/conf.d"
cat > "$tmp/n$NEW/conf.d/50-mesh.conf" <<PEOF
mesh
    listen = "tcp://127.0.0.1:$port"
    bootstrap = "n0=tcp://127.0.0.1:${MESH_PORTS[0]}"
    probe = "500ms"
    probe_timeout = "200ms"
PEOF
for ((i = 0; i <= NEW; i++)); do
    cat > "$tmp/n$i/conf.d/60-attest.conf" <<PEOF
attest
    node_policy = "$tmp/policy.json"
    measure = "$tmp/n$i/app.bin"
PEOF
done
for ((i = 0; i < N; i++)); do mesh_start "$i"; done
for ((i = 0; i < N; i++)); do mesh_wait_up "$i"; done
mesh_wait 20 ledger_tips_at_least 2 0 1 2 3 || mesh_fail "the genesis nodes do not commit"

step "n$NEW starts outside the cluster: refused until its join commits"
mesh_start "$NEW"
mesh_wait_up "$NEW"
grep -q "not a genesis node: waiting for the ledger" "$tmp/n$NEW/wardend.log" \
    || mesh_fail "n$NEW's mesh did not start as a joining node"
[ "$(member 0 "n$NEW")" = none ] || mesh_fail "n$NEW is listed before it joined"

step "member request on n$NEW, member admit on n0"
mesh_ctl "$NEW" member request --output "$tmp/join.req" > /dev/null \
    || mesh_fail "member request failed"
set +e
mesh_ctl 1 member admit "$tmp/n$NEW/node.cert" > /dev/null 2>&1
rc=$?
set -e
[ $rc = 1 ] || mesh_fail "member admit of a file that is no join-request exits $rc"
join_id=$(mesh_ctl 0 member admit "$tmp/join.req") || mesh_fail "member admit failed"
echo "    join record ${join_id:0:16}"
mesh_wait 20 member_everywhere "n$NEW" member 0 1 2 3 \
    || mesh_fail "the join is not committed everywhere (n0 says $(member 0 "n$NEW"))"
join_height=$(mesh_ctl 0 members --json | "$PY" -c "
import json,sys; print([r['joined'] for r in json.load(sys.stdin)['members'] if r['name']=='n$NEW'][0])")
echo "    joined at height $join_height"
mesh_wait 20 peer_listed 1 "n$NEW" || mesh_fail "n1 does not admit n$NEW"

step "n$NEW syncs the chain and follows the ledger"
mesh_wait 20 ledger_tips_at_least "$join_height" "$NEW" \
    || mesh_fail "n$NEW did not sync (tip $(ledger_tip "$NEW"))"
mesh_wait 10 member_everywhere "n$NEW" member "$NEW" || true # it may already be a validator
for k in 1 2 3; do
    mesh_wait 20 peer_listed "$NEW" "n$k" || mesh_fail "n$NEW has no link to n$k"
done

step "n$NEW's self-evidence is certified; it becomes a validator"
mesh_wait 30 certified 0 || mesh_fail "n$NEW's evidence is not certified: $(rep 0 "r.get('n$NEW')")"
mesh_wait 30 member_everywhere "n$NEW" validator 0 1 2 3 "$NEW" \
    || mesh_fail "n$NEW is not a validator everywhere (n0: $(member 0 "n$NEW"))"
mesh_wait 20 agree "$NEW" "j['validator']" || true
[ "$(agree "$NEW" "j['validator']")" = True ] || mesh_fail "n$NEW does not validate: $(mesh_ctl "$NEW" agree status)"
tip=$(ledger_same 0 1 2 3 "$NEW") || mesh_fail "ledgers differ: $tip"
echo "    five ledgers agree up to height $tip"

step "n$LEAVER leaves"
leave_id=$(mesh_ctl "$LEAVER" member leave) || mesh_fail "member leave failed"
echo "    leave record ${leave_id:0:16}"
mesh_wait 20 member_everywhere "n$LEAVER" left 0 1 2 "$NEW" \
    || mesh_fail "the leave is not committed everywhere (n0 says $(member 0 "n$LEAVER"))"
out_of_set() {
    [ "$(agree 0 "j['validators'] == $N")" = True ] && not_peer_listed 0 "n$LEAVER" \
        && not_peer_listed "$NEW" "n$LEAVER"
}
mesh_wait 30 out_of_set || mesh_fail "n$LEAVER is still in the set or admitted: \
$(mesh_ctl 0 agree status); n0 lists it: $(peer_listed 0 "n$LEAVER" && echo yes || echo no)"
grep -q "n$LEAVER .* dropped by the ledger" "$tmp/n0/wardend.log" \
    || mesh_fail "n0 did not log dropping n$LEAVER"
from=$(ledger_tip 0)
mesh_wait 20 tip_grows 0 "$from" || mesh_fail "the cluster stopped committing after the leave"
tip=$(ledger_same 0 1 2 "$NEW") || mesh_fail "ledgers differ: $tip"
mesh_ctl "$NEW" ledger verify > /dev/null || mesh_fail "ledger verify on n$NEW"
mesh_ctl "$NEW" ledger export "$tmp/export" > /dev/null || mesh_fail "ledger export on n$NEW"
"$WARDEN_VERIFY" ledger "$tmp/export" --genesis "$tmp/genesis" > "$tmp/wv.txt" 2>&1 \
    || mesh_fail "warden-verify refuses the chain: $(cat "$tmp/wv.txt")"
echo "    four nodes agree up to height $tip"
mesh_check_logs
echo "PASS ($SECONDS s)"
