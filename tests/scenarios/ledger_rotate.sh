#!/usr/bin/env bash
# Scenario: a member rotates its keys through the ledger (issue 8 item 1;
# docs/OPERATIONS.md "Rotate a key"; PROTOCOL.md "Membership transactions").
#   4 genesis nodes (short epochs) commit blocks and certify their
#   self-evidence; new keys for n3 are made with `wardenctl init --state
#   n4 --name n3 --backend pkcs11` (a SoftHSM2 token) ->
#   `wardenctl member rotate --new-state n4` on n3 (running on its old keys)
#   signs the rotate-request with n4's keystore (the token), n3's wardend seals the
#   rotate record with the old key and gossips it (the same command on n2
#   is refused: the new certificate is for another node) ->
#   once committed every node's `members` lists n3 under the new key (and
#   the old keys' wardend refuses a second rotate: not a member) ->
#   n3 is stopped, its ledger.db copied to n4 (nothing else: keys,
#   sign.state, agree.state stay), and the node restarted on n4: its mesh
#   starts because its ledger lists the new key as a member, the others'
#   ZAP admit the new CURVE key, it catches up and, once the sets name the
#   new key, validates and signs precommits; its reputation row kept its
#   passed and precommit counters ->
#   the old keys (n3 started again, on another port) are refused by the
#   others' ZAP; the ledgers are identical, `ledger verify` and
#   warden-verify accept the chain with the rotate.
# Usage: ledger_rotate.sh WARDEND WARDENCTL WARDEN_VERIFY
set -euo pipefail
WARDEND=$1
WARDENCTL=$2
WARDEN_VERIFY=$3
N=4      # genesis nodes n0..n3
ROT=3    # the node that rotates
NEW=4    # its new state directory n4 (node name n3)
EPOCH_BLOCKS=4
LOOKBACK=1
HERE=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d /tmp/warden-rotate-XXXXXX)
# shellcheck source=mesh_lib.sh
source "$HERE/mesh_lib.sh"
# shellcheck source=cluster_lib.sh
source "$HERE/cluster_lib.sh"
trap 'mesh_cleanup; [ -n "${KEEP_TMP:-}" ] || rm -rf "$tmp"' EXIT
step() { echo "--- $* ($SECONDS s)"; }

# row AT EXPR: EXPR over n3's row `m` in node AT's `wardenctl members --json`.
row() {
    mesh_ctl "$1" members --json 2> /dev/null | "$PY" -c "
import json, sys
m = [r for r in json.load(sys.stdin)['members'] if r['name'] == 'n$ROT'][0]
print($2)" || echo none
}
# rotated_everywhere NODES...: every listed node lists n3 under the new key.
rotated_everywhere() {
    local i
    for i in "$@"; do [ "$(row "$i" "m['id'] == '$new_id' and m['rotated'] > 0")" = True ] || return 1; done
}
# peer_up AT ID: node AT's mesh has an up link to the node with sign_pk ID.
peer_up() {
    mesh_ctl "$1" peers --json 2> /dev/null | "$PY" -c "
import json, sys
sys.exit(0 if any(p['id'] == '$2' and p['link'] == 'up' for p in json.load(sys.stdin)['peers']) else 1)"
}
# link AT ID: node AT's link state to the node with sign_pk ID.
link() {
    mesh_ctl "$1" peers --json 2> /dev/null | "$PY" -c "
import json, sys
print([p['link'] for p in json.load(sys.stdin)['peers'] if p['id'] == '$2'] or ['none'])" || true
}
link_refused() { [ "$(link "$1" "$2")" = "['refused']" ]; }
# zap_unknown AT: handshakes node AT refused for an unknown key.
zap_unknown() {
    mesh_ctl "$1" peers --json 2> /dev/null \
        | "$PY" -c "import json,sys; print(json.load(sys.stdin)['self']['zap_unknown'])"
}
# refused_at AT FROM: node AT refused more than FROM handshakes.
refused_at() { [ "$(zap_unknown "$1")" -gt "$2" ]; }
agree() {
    mesh_ctl "$1" agree status --json 2> /dev/null \
        | "$PY" -c "import json,sys; j=json.load(sys.stdin); print($2)"
}
tip_grows() { [ "$(ledger_tip "$1")" -gt $(($2 + 2)) ]; }
# stop INDEX: SIGTERM to node INDEX's parent and wait for it (a clean stop).
stop() {
    kill -TERM "${MESH_PIDS[$1]}"
    wait "${MESH_PIDS[$1]}" 2> /dev/null || true
    MESH_PIDS[$1]=
}
certified() { [ "$(reputation 0 "r['n$ROT']['passed'] >= 1")" = True ]; }

step "$N genesis nodes and new keys for n$ROT in a token"
mesh_make "$N"
mesh_genesis rotate-test --param epoch_blocks=$EPOCH_BLOCKS --param seed_lookback=$LOOKBACK \
    --param agree_idle_ms=250
# The new identity key lives in a SoftHSM2 token (a node moving onto a
# token is a reason to rotate): the rotate-request is signed through pkcs11.
MODULE=/usr/lib/softhsm/libsofthsm2.so
[ -r "$MODULE" ] && command -v softhsm2-util > /dev/null \
    || mesh_fail "SoftHSM2 is not installed: run scripts/install-deps"
mkdir -m 0700 "$tmp/tokens"
printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' \
    "$tmp/tokens" > "$tmp/softhsm2.conf"
export SOFTHSM2_CONF=$tmp/softhsm2.conf
softhsm2-util --init-token --free --label warden-rotate --so-pin 27182818 --pin 31415926 > /dev/null
(umask 077 && printf '31415926\n' > "$tmp/pin")
"$WARDENCTL" init --state "$tmp/n$NEW" --name "n$ROT" --backend pkcs11 --module "$MODULE" \
    --token warden-rotate --key-label "n$ROT-2" --pin-file "$tmp/pin" > /dev/null
cp "$tmp/genesis" "$tmp/n$NEW/genesis"
old_id=$(mesh_key "$ROT" sign_pk)
new_id=$(mesh_key "$NEW" sign_pk)
files=("$(readlink -f "$WARDEND")")
for ((i = 0; i <= NEW; i++)); do
    printf 'app v1\n' > "$tmp/n$i/app.bin"
    files+=("$tmp/n$i/app.bin")
done
node_policy_write "$tmp/policy.json" "${files[@]}"
for ((i = 0; i <= NEW; i++)); do
    mkdir -p "$tmp/n$i/conf.d"
    cat > "$tmp/n$i/conf.d/60-attest.conf" << EOF
attest
    node_policy = "$tmp/policy.json"
    measure = "$tmp/n$i/app.bin"
EOF
done
for ((i = 0; i < N; i++)); do mesh_start "$i"; done
for ((i = 0; i < N; i++)); do mesh_wait_up "$i"; done
mesh_wait 20 ledger_tips_at_least 2 0 1 2 3 || mesh_fail "the genesis nodes do not commit"
mesh_wait 30 certified || mesh_fail "n$ROT's evidence is not certified: $(reputation 0 "r['n$ROT']")"

step "member rotate on n$ROT with the keys of n$NEW"
set +e
mesh_ctl 2 member rotate --new-state "$tmp/n$NEW" > /dev/null 2>&1
rc=$?
set -e
[ $rc = 2 ] || mesh_fail "member rotate on n2 with n$ROT's new keys exits $rc"
mesh_ctl "$ROT" member rotate --new-state "$tmp/n$NEW" > "$tmp/rotate.out" 2> "$tmp/rotate.err" \
    || mesh_fail "member rotate failed: $(cat "$tmp/rotate.err")"
echo "    rotate record $(head -c 16 "$tmp/rotate.out")"
grep -q "never copy" "$tmp/rotate.err" || mesh_fail "member rotate printed no next steps"
mesh_wait 20 rotated_everywhere 0 1 2 "$ROT" \
    || mesh_fail "the rotate is not committed everywhere (n0: $(row 0 m))"
rot_height=$(row 0 "m['rotated']")
echo "    committed at height $rot_height"
mesh_wait 10 grep -q "this node is no longer a member" "$tmp/n$ROT/wardend.log" \
    || mesh_fail "n$ROT on its old key still counts itself a member"
set +e
mesh_ctl "$ROT" member rotate --new-state "$tmp/n$NEW" > /dev/null 2> "$tmp/again.err"
rc=$?
set -e
[ $rc = 1 ] && grep -q "not a member" "$tmp/again.err" \
    || mesh_fail "a second rotate on the old keys exits $rc: $(cat "$tmp/again.err")"
passed=$(reputation 0 "r['n$ROT']['passed']")
made=$(reputation 0 "r['n$ROT']['precommits_made']")
echo "    n$ROT's row before the restart: $passed passed, $made precommits made"

step "n$ROT restarts on n$NEW (only ledger.db moves)"
stop "$ROT"
cp "$tmp/n$ROT"/ledger.db* "$tmp/n$NEW/"
cp "$tmp/n$ROT/conf.d/50-mesh.conf" "$tmp/n$NEW/conf.d/"
[ ! -e "$tmp/n$NEW/keys/sign.state" ] || mesh_fail "n$NEW has a sign.state before its first start"
mesh_start "$NEW"
mesh_wait_up "$NEW"
grep -q "a member by its ledger" "$tmp/n$NEW/wardend.log" \
    || mesh_fail "n$NEW's mesh did not start as a member by its ledger"
for k in 0 1 2; do
    mesh_wait 20 peer_up "$k" "$new_id" || mesh_fail "n$k has no link to the new key"
    mesh_wait 20 peer_up "$NEW" "$(mesh_key "$k" sign_pk)" || mesh_fail "n$NEW has no link to n$k"
done
from=$(ledger_tip 0)
mesh_wait 20 tip_grows "$NEW" "$from" || mesh_fail "n$NEW does not follow (tip $(ledger_tip "$NEW"))"

step "the new key validates; the row kept its counters"
mesh_wait 30 agree "$NEW" "j['validator']" || true
[ "$(agree "$NEW" "j['validator']")" = True ] \
    || mesh_fail "n$NEW does not validate: $(mesh_ctl "$NEW" agree status)"
made_more() {
    [ "$(reputation 0 "r['n$ROT']['precommits_made'] > $made and r['n$ROT']['passed'] >= $passed")" = True ]
}
mesh_wait 30 made_more || mesh_fail "n$ROT's row lost its counters or the new key signs no \
precommit: before $passed passed, $made made; now $(reputation 0 "r['n$ROT']")"
[ "$(reputation 0 "r['n$ROT']['id'] == '$new_id' and r['n$ROT']['key_protection'] == 'pkcs11-software'")" = True ] \
    || mesh_fail "the row is not the new key's: $(reputation 0 "r['n$ROT']")"

step "the old keys are refused"
refused=$(zap_unknown 0)
port=$(mesh_free_port_base 1) || mesh_fail "no free port"
cat > "$tmp/n$ROT/conf.d/70-port.conf" << EOF
mesh
    listen = "tcp://127.0.0.1:$port"
EOF
mesh_start "$ROT"
mesh_wait_up "$ROT"
mesh_wait 20 refused_at 0 "$refused" || mesh_fail "n0 did not refuse the old key"
n0_id=$(mesh_key 0 sign_pk)
mesh_wait 20 link_refused "$ROT" "$n0_id" \
    || mesh_fail "the old n$ROT's link to n0 is $(link "$ROT" "$n0_id"), not refused"
peer_up 0 "$old_id" && mesh_fail "n0 has a link to the old key"
stop "$ROT"

step "ledgers agree and verify"
from=$(ledger_tip 0)
mesh_wait 20 tip_grows 0 "$from" || mesh_fail "the cluster stopped committing"
tip=$(ledger_same 0 1 2 "$NEW") || mesh_fail "ledgers differ: $tip"
mesh_ctl "$NEW" ledger verify > /dev/null || mesh_fail "ledger verify on n$NEW"
mesh_ctl "$NEW" ledger export "$tmp/export" > /dev/null || mesh_fail "ledger export on n$NEW"
"$WARDEN_VERIFY" ledger "$tmp/export" --genesis "$tmp/genesis" > "$tmp/wv.txt" 2>&1 \
    || mesh_fail "warden-verify refuses the chain: $(cat "$tmp/wv.txt")"
echo "    four ledgers agree up to height $tip (rotate at $rot_height)"
mesh_check_logs
echo "PASS ($SECONDS s)"
