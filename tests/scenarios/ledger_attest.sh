#!/usr/bin/env bash
# Scenario: verifier committees in real wardend processes on loopback
# (issue 8 items 4 and 7).
#   4 nodes, one genesis (short epochs), every node measuring a file named
#   in attest/measure and appraising node evidence against one shared
#   Keylime policy (attest/node_policy) ->
#   every node's self-evidence is certified by its committee and every
#   ledger says "affirming" for every node (wardenctl attest node) ->
#   the measured file of n3 changes and n3 reloads (SIGHUP: the engine
#   measures again): its next evidence fails, its tier becomes
#   contraindicated in every ledger, its reputation score drops below the
#   others' (wardenctl reputation --json), and by the epoch rules
#   (docs/PROTOCOL.md "Weights": a node whose latest decided evidence was
#   rejected is left out) it is out of the validator set from the first
#   epoch whose reference table holds the rejection: from then on it is an
#   observer (wardenctl agree status), the others count 3 validators and
#   it proposes no block ->
#   all ledgers still agree block for block.
# Usage: ledger_attest.sh WARDEND WARDENCTL
set -euo pipefail
WARDEND=$1
WARDENCTL=$2
N=4
BAD=3
EPOCH_BLOCKS=8 # short epochs: self-evidence (one per epoch) and sets move fast
LOOKBACK=1
HERE=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d /tmp/warden-attest-XXXXXX)
# shellcheck source=mesh_lib.sh
source "$HERE/mesh_lib.sh"
# shellcheck source=cluster_lib.sh
source "$HERE/cluster_lib.sh"
trap 'mesh_cleanup; rm -rf "$tmp"' EXIT
step() { echo "--- $* ($SECONDS s)"; }

step "$N nodes with one node policy, each measuring its own app file"
mesh_make "$N"
mesh_genesis attest-test --param epoch_blocks=$EPOCH_BLOCKS --param seed_lookback=$LOOKBACK \
    --param agree_idle_ms=250
measured=("$(readlink -f "$WARDEND")")
for ((i = 0; i < N; i++)); do
    printf 'app v1\n' > "$tmp/n$i/app.bin"
    measured+=("$tmp/n$i/app.bin")
done
# The binary and the app files are reference values.
node_policy_write "$tmp/policy.json" "${measured[@]}"
for ((i = 0; i < N; i++)); do
    cat > "$tmp/n$i/conf.d/60-attest.conf" <<EOF
attest
    node_policy = "$tmp/policy.json"
    measure = "$tmp/n$i/app.bin"
EOF
done
for ((i = 0; i < N; i++)); do mesh_start "$i"; done
for ((i = 0; i < N; i++)); do mesh_wait_up "$i"; done

step "every node's self-evidence is certified into every ledger"
mesh_wait 30 attest_all_affirming || {
    for ((k = 0; k < N; k++)); do echo "n$k: $(attest_tier 0 "$k")" >&2; done
    mesh_fail "self-evidence not certified everywhere"
}
mesh_ctl 0 attest node "n$BAD" --json > "$tmp/before.json"
[ "$(json "$tmp/before.json" "len([v for v in j['verdicts'] if v['tier'] == 'affirming'])")" -ge 2 ] \
    || mesh_fail "certified without two affirming verdicts: $(cat "$tmp/before.json")"
mesh_ctl 0 attest node "n$BAD" > /dev/null || mesh_fail "attest node exits non-zero for an affirming node"
score_before=$(reputation 0 "r['n$BAD']['score_bp']")
echo "    n$BAD: score $score_before bp, $(reputation 0 "r['n$BAD']['passed']") passed"

step "n$BAD's measured file changes; it reloads"
printf 'app v2 (tampered)\n' > "$tmp/n$BAD/app.bin"
kill -HUP "${MESH_PIDS[BAD]}"
mesh_wait 30 attest_tier_everywhere "$BAD" contraindicated || {
    for ((k = 0; k < N; k++)); do echo "n$k sees n$BAD: $(attest_tier "$k" "$BAD")" >&2; done
    mesh_fail "n$BAD's failing evidence is not contraindicated everywhere"
}
set +e
mesh_ctl 1 attest node "n$BAD" > "$tmp/after.txt"
rc=$?
set -e
[ $rc = 1 ] || mesh_fail "attest node exits $rc for a contraindicated node"
grep -q contraindicated "$tmp/after.txt" || mesh_fail "attest node: $(cat "$tmp/after.txt")"
for ((k = 0; k < N; k++)); do
    [ "$k" = "$BAD" ] || attest_tier_everywhere "$k" affirming || mesh_fail "n$k is no longer affirming"
done

step "n$BAD's reputation drops and it leaves the validator set"
score_after=$(reputation 0 "r['n$BAD']['score_bp']")
echo "    n$BAD: score $score_before -> $score_after bp," \
    "$(reputation 0 "r['n$BAD']['failed']") failed"
[ "$(reputation 0 "r['n$BAD']['failed'] >= 1")" = True ] || mesh_fail "no failed attestation counted"
# Lowest once the failures count: right after the first one a node that
# missed precommits while the cluster started can still score lower; every
# epoch adds a pass for the others and a failure for n$BAD.
lowest_score() {
    [ "$(reputation 0 \
        "r['n$BAD']['score_bp'] < min(v['score_bp'] for k, v in r.items() if k != 'n$BAD')")" = True ]
}
mesh_wait 30 lowest_score || mesh_fail "n$BAD's score is not the lowest: $(reputation 0 \
    "{k: (v['score_bp'], v['passed'], v['failed'], v['precommits_made'], v['precommits_possible']) \
for k, v in r.items()}")"
[ "$(reputation 0 "r['n$BAD']['weight']")" = 0 ] \
    || mesh_fail "the table still gives n$BAD weight $(reputation 0 "r['n$BAD']['weight']")"

# The set of epoch e comes from the table after block e*EPOCH_BLOCKS -
# LOOKBACK: the rejection decided at height X is in the set of the first
# epoch e with e*EPOCH_BLOCKS - LOOKBACK >= X, whose first block is H.
mesh_ctl 0 attest node "n$BAD" --json > "$tmp/bad.json" || true # exit 1: contraindicated
decided=$(json "$tmp/bad.json" "j['height']")
epoch=$(((decided + LOOKBACK + EPOCH_BLOCKS - 1) / EPOCH_BLOCKS))
first=$((epoch * EPOCH_BLOCKS + 1))
echo "    rejected at height $decided: out of the set from epoch $epoch (height $first)"
# agree AT EXPR: EXPR over node AT's agreement status `j`.
agree() {
    mesh_ctl "$1" agree status --json 2> /dev/null \
        | "$PY" -c "import json,sys; j=json.load(sys.stdin); print($2)"
}
past_first() {
    local i
    for ((i = 0; i < N; i++)); do [ "$(agree "$i" "j['tip'] >= $first")" = True ] || return 1; done
}
mesh_wait 60 past_first || mesh_fail "the ledgers do not reach height $first"
[ "$(agree "$BAD" "j['validator']")" = False ] || mesh_fail "n$BAD is still a validator"
for ((k = 0; k < N; k++)); do
    [ "$k" = "$BAD" ] && continue
    [ "$(agree "$k" "j['validator'] and j['validators'] == $((N - 1))")" = True ] \
        || mesh_fail "n$k: $(mesh_ctl "$k" agree status)"
done
# no block of those epochs is n$BAD's (it is not in their sets)
mesh_ctl 0 ledger show --from "$first" --json > "$tmp/after_blocks.json"
[ "$(json "$tmp/after_blocks.json" \
    "len(j['blocks']) > 0 and all(b['proposer_name'] != 'n$BAD' for b in j['blocks'])")" = True ] \
    || mesh_fail "n$BAD proposed a block from height $first on"
echo "    n$BAD has left the validator set; $(agree 0 "j['tip']") blocks committed"
ledger_same "${!MESH_PORTS[@]}" > /dev/null || mesh_fail "ledgers differ"
mesh_check_logs
echo "PASS ($SECONDS s)"
