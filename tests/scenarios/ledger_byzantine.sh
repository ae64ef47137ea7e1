#!/usr/bin/env bash
# Scenario: a byzantine validator is caught, its evidence committed and it
# is slashed (issue 8 item 7), and the keys process's double-sign guard
# keeps an honest node restored from a backup from signing again.
#   5 genesis nodes (short epochs, a long propose timeout so that a round
#   whose proposer is silent stalls past two repair ticks); n0..n3 run
#   wardend, n4 is byzantine_peer.py with n4's real keys: it listens on
#   n4's endpoint to learn the heights, and signs a nil prevote and
#   precommit for n0 and n1 and the same for a random block for n2 and n3
#   at every height and round ->
#   the honest nodes relay what they accepted while a height stalls, one of
#   them holds both votes and reports it: an `equivocation` record naming
#   n4 is in every ledger ->
#   `wardenctl reputation --json` on every node: n4 slashed (slashes >= 1,
#   passed and precommits made 0), quarantined, weight 0; nobody else
#   slashed; its slashes are exactly the distinct (height, round, vote type)
#   among the equivocation records of the exported ledger ->
#   the next epoch's validator set has 4 validators on every node, the
#   cluster keeps committing (a notice is committed everywhere) and the
#   ledgers agree block for block ->
#   the double-sign guard: n3 is stopped, its ledger and agree.state are
#   copied (a backup), it runs on; then every node stops, the copy is put
#   back (keys/sign.state is not) and n3 starts alone: its engine asks for
#   a vote at its old height and the keys process refuses it
#   (WD_ERR_SIGN_REGRESS in its log); the others start, n3 catches up and
#   commits with them; nobody ever reports n0..n3 for equivocation.
# With MODE precommit, n4 plays the quieter game of byzantine_peer.py's
# "precommit" mode (the proposed block to n0 and n1, nil to n2 and n3) on a
# chain whose heights never stall (agree_idle_ms 100, below the repair
# tick), so no vote is relayed: n2 or n3 catches it by comparing the
# certificate in the next block's last_cert with the precommit it holds;
# the record is committed everywhere and n4 slashed exactly once per
# equivocation (the epoch and guard steps are the default mode's).
# Usage: ledger_byzantine.sh WARDEND WARDENCTL BYZANTINE_PEER_PY [MODE]
set -euo pipefail
WARDEND=$1
WARDENCTL=$2
PEER_PY=$3
MODE=${4:-split}
N=5
BYZ=4
HONEST=(0 1 2 3)
HERE=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d /tmp/warden-byz-XXXXXX)
# shellcheck source=mesh_lib.sh
source "$HERE/mesh_lib.sh"
# shellcheck source=cluster_lib.sh
source "$HERE/cluster_lib.sh"
byz_pid=
trap '[ -n "$byz_pid" ] && kill "$byz_pid" 2> /dev/null; mesh_cleanup; rm -rf "$tmp"' EXIT
step() { echo "--- $* ($SECONDS s)"; }

# accused INDEX: the validators (hex) that equivocation records in node
# INDEX's ledger name, one per line, with the record count.
accused() {
    "$PY" - "$tmp/n$1/ledger.db" <<'EOF'
import collections, msgpack, sqlite3, sys
db = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True, timeout=5)
c = collections.Counter()
for (env,) in db.execute("select envelope from records where type = 'equivocation'"):
    c[msgpack.unpackb(msgpack.unpackb(env)["body"])["validator"].hex()] += 1
for k, v in sorted(c.items()):
    print(k, v)
EOF
}

# caught_everywhere: every honest ledger holds an equivocation record naming
# n4, and none naming anyone else.
caught_everywhere() {
    local i
    for i in "${HONEST[@]}"; do
        accused "$i" > "$tmp/accused.$i" || return 1
        grep -q "^$byz_id " "$tmp/accused.$i" || return 1
    done
}

# committed_all TEXT: every honest ledger holds a notice with TEXT.
committed_all() { ledger_have_all "$1" "${HONEST[@]}"; }

# (In precommit mode the certificates of blocks decided after the slash may
# still count n4's precommits, so precommits_made is not checked there.)
slashed_everywhere() {
    local i made="r['n$BYZ']['precommits_made'] == 0"
    [ "$MODE" = precommit ] && made=True
    for i in "${HONEST[@]}"; do
        [ "$(reputation "$i" "r['n$BYZ']['slashes'] >= 1 and r['n$BYZ']['quarantined'] and \
            r['n$BYZ']['weight'] == 0 and r['n$BYZ']['passed'] == 0 and $made and \
            all(v['slashes'] == 0 for k, v in r.items() if k != 'n$BYZ')")" = True ] || return 1
    done
}

# validators_everywhere COUNT: every honest engine decides with COUNT validators.
validators_everywhere() {
    local i
    for i in "${HONEST[@]}"; do
        mesh_ctl "$i" agree status --json > "$tmp/agree.$i.json" 2> /dev/null || return 1
        [ "$(json "$tmp/agree.$i.json" "j['validators']")" = "$1" ] || return 1
    done
}

step "5 genesis nodes; n0..n3 run wardend, n4 is byzantine ($MODE mode)"
mesh_make "$N"
if [ "$MODE" = precommit ]; then
    # heights of about 100 ms: the repair tick (500 ms) never finds one stalled
    mesh_genesis byzantine-test --param epoch_blocks=1000 --param agree_idle_ms=100
else
    # epochs of 10 blocks; a silent proposer's round lasts 1.2 s, more than
    # two repair ticks (500 ms), so the honest nodes relay what they accepted
    mesh_genesis byzantine-test --param epoch_blocks=10 --param agree_propose_ms=1200 \
        --param agree_idle_ms=600
fi
for i in "${HONEST[@]}"; do mesh_start "$i"; done
for i in "${HONEST[@]}"; do mesh_wait_up "$i"; done
chain=$(mesh_chain_id)
byz_id=$(mesh_key "$BYZ" sign_pk) || mesh_fail "keys show for n$BYZ"
group_a="$(mesh_target 0),$(mesh_target 1)"
group_b="$(mesh_target 2),$(mesh_target 3)"
mesh_wait 20 ledger_tips_at_least 2 "${HONEST[@]}" || mesh_fail "no blocks without n$BYZ"

if [ "$MODE" = precommit ]; then
    step "n$BYZ precommits each proposed block to one half and nil to the other"
else
    step "n$BYZ signs two different prevotes and precommits per round, one to each half"
fi
"$PY" "$PEER_PY" "$tmp/n$BYZ" "$chain" "$(mesh_endpoint "$BYZ")" 40 \
    "$group_a" "$group_b" "$MODE" > "$tmp/byz.out" 2>&1 &
byz_pid=$!
mesh_wait 40 caught_everywhere ||
    mesh_fail "no equivocation record for n$BYZ in every ledger: $(cat "$tmp"/accused.* 2> /dev/null)"
kill "$byz_pid" 2> /dev/null || true
wait "$byz_pid" 2> /dev/null || true
byz_pid=
cat "$tmp/byz.out"
for i in "${HONEST[@]}"; do
    [ "$(wc -l < "$tmp/accused.$i")" = 1 ] || mesh_fail "n$i accuses others: $(cat "$tmp/accused.$i")"
done
echo "    equivocation records naming n$BYZ: $(cut -d' ' -f2 "$tmp/accused.0") at n0;" \
    "reported by: $(grep -l "n$BYZ ([0-9a-f]*) signed two different" "$tmp"/n*/wardend.log |
        xargs -n1 dirname | xargs -n1 basename | tr '\n' ' ')"

if [ "$MODE" = precommit ]; then
    grep -q "n$BYZ ([0-9a-f]*) signed two different precommits .*(one in the certificate of the next block)" \
        "$tmp"/n2/wardend.log "$tmp"/n3/wardend.log ||
        mesh_fail "n2 and n3 did not catch n$BYZ through a certificate"
    grep -h "certificate of the next block" "$tmp"/n*/wardend.log | head -1 | sed 's/^/    /'
    grep -h "signed two different prevotes" "$tmp"/n*/wardend.log &&
        mesh_fail "a prevote equivocation was reported, but n$BYZ prevoted one block"
fi

step "n$BYZ is slashed and quarantined in every node's reputation table"
mesh_wait 10 slashed_everywhere || mesh_fail "n$BYZ not slashed everywhere: $(reputation 0 "r['n$BYZ']")"
echo "    n0's view: $(reputation 0 "{k: r['n$BYZ'][k] for k in ('slashes', 'passed', 'precommits_made', \
'quarantined', 'quarantine_until_epoch', 'weight', 'score_bp')}")"

# slashes_exact I: n$I's slash count of n$BYZ is exactly the number of
# distinct equivocations (validator, height, round, vote type) among the
# equivocation records of its exported ledger, however many nodes reported
# each (one slash per equivocation, PROTOCOL.md "Reputation").
slashes_exact() {
    mesh_ctl "$1" ledger export "$tmp/export.$1" > /dev/null 2>&1 || return 1
    mesh_ctl "$1" reputation --json > "$tmp/rep.$1.json" 2> /dev/null || return 1
    "$PY" - "$tmp/export.$1" "$tmp/rep.$1.json" "$byz_id" "n$BYZ" > "$tmp/slashes.$1" <<'PYEOF' || return 1
import json, msgpack, sys
x = msgpack.unpackb(open(sys.argv[1], "rb").read(), raw=False)
rep = json.load(open(sys.argv[2]))
if rep.get("height", x["height"]) != x["height"]:
    sys.exit(1)  # a block came in between: ask again
keys, records = set(), 0
for block, _ in x["blocks"]:
    for rec in msgpack.unpackb(block, raw=False)["records"]:
        env = msgpack.unpackb(rec, raw=False)
        if env["type"] != "equivocation":
            continue
        ev = msgpack.unpackb(env["body"], raw=False)
        if ev["validator"].hex() == sys.argv[3]:
            records += 1
            keys.add((ev["height"], ev["round"], ev["type"]))
slashes = {n["name"]: n for n in rep["nodes"]}[sys.argv[4]]["slashes"]
print("%d records, %d equivocations, %d slashes" % (records, len(keys), slashes))
sys.exit(0 if keys and slashes == len(keys) else 1)
PYEOF
}
step "n$BYZ's slashes are exactly its distinct equivocations (one per equivocation, not per report)"
for i in "${HONEST[@]}"; do
    mesh_wait 10 slashes_exact "$i" || mesh_fail "n$i: slashes != equivocations: $(cat "$tmp/slashes.$i")"
done
echo "    n0: $(cat "$tmp/slashes.0")"
if [ "$MODE" = precommit ]; then
    if grep -h "signed two different" "$tmp"/n*/wardend.log | grep -v "n$BYZ ("; then
        mesh_fail "an honest node was reported for equivocation"
    fi
    common=$(ledger_same "${HONEST[@]}") || mesh_fail "ledgers differ at the end"
    echo "    $common blocks in common"
    mesh_check_logs
    echo "PASS ($SECONDS s)"
    exit 0
fi

step "the next epoch's validator set leaves n$BYZ out; the cluster keeps committing"
mesh_wait 30 validators_everywhere 4 ||
    mesh_fail "n$BYZ still in a validator set: $(cat "$tmp"/agree.*.json | tr -d '\n')"
mesh_ctl 0 mesh publish --text "after-slash" > /dev/null || mesh_fail "publish"
mesh_wait 20 committed_all "after-slash" || mesh_fail "no commit after the slash"
h0=$(ledger_tip 0)
mesh_wait 20 ledger_tips_at_least $((h0 + 3)) "${HONEST[@]}" || mesh_fail "commits stalled"
common=$(ledger_same "${HONEST[@]}") || mesh_fail "ledgers differ"
echo "    $common blocks in common, tip $(ledger_tip 0)"

step "the double-sign guard: n3 restored from a backup does not sign its old votes again"
backup() { # copies n3's ledger and agreement state (not keys/) to or from $tmp/backup
    local from=$1 to=$2 f
    mkdir -p "$to"
    for f in ledger.db ledger.db-wal ledger.db-shm agree.state; do
        rm -f "$to/$f"
        [ -f "$from/$f" ] && cp -p "$from/$f" "$to/$f"
    done
    return 0
}
stop_node() {
    kill -TERM "${MESH_PIDS[$1]}"
    wait "${MESH_PIDS[$1]}" 2> /dev/null || true
    MESH_PIDS[$1]=
}
stop_node 3
backup "$tmp/n3" "$tmp/backup"
old=$(ledger_tip 3)
mesh_start 3
mesh_wait_up 3
mesh_wait 20 ledger_tips_at_least $((old + 5)) 3 || mesh_fail "n3 does not commit after its restart"
# Everyone stops, so that n3, restored, cannot fetch the blocks it lacks
# before its first propose timeout: it will ask for a vote at its old height.
for i in "${HONEST[@]}"; do stop_node "$i"; done
backup "$tmp/backup" "$tmp/n3"
refusals_before=$(grep -c "WD_ERR_SIGN_REGRESS" "$tmp/n3/wardend.log" || true)
mesh_start 3
mesh_wait_up 3
refused() { [ "$(grep -c "WD_ERR_SIGN_REGRESS" "$tmp/n3/wardend.log")" -gt "$refusals_before" ]; }
mesh_wait 10 refused || mesh_fail "n3's keys process did not refuse its old votes"
grep -m1 "refused to sign" "$tmp/n3/wardend.log" | sed 's/^/    /'
for i in 0 1 2; do mesh_start "$i"; done
for i in 0 1 2; do mesh_wait_up "$i"; done
h0=$(ledger_tip 0)
mesh_wait 30 ledger_tips_at_least $((h0 + 3)) "${HONEST[@]}" || mesh_fail "n3 did not catch up"
mesh_ctl 3 mesh publish --text "from-restored" > /dev/null || mesh_fail "publish"
mesh_wait 20 committed_all "from-restored" || mesh_fail "no commit after the restore"

step "nobody but n$BYZ was ever reported; ledgers agree"
if grep -h "signed two different" "$tmp"/n*/wardend.log | grep -v "n$BYZ ("; then
    mesh_fail "an honest node was reported for equivocation"
fi
for i in "${HONEST[@]}"; do
    accused "$i" > "$tmp/accused.$i"
    [ "$(cut -d' ' -f1 "$tmp/accused.$i" | sort -u)" = "$byz_id" ] ||
        mesh_fail "n$i's ledger accuses: $(cat "$tmp/accused.$i")"
done
common=$(ledger_same "${HONEST[@]}") || mesh_fail "ledgers differ at the end"
echo "    $common blocks in common"
mesh_check_logs
echo "PASS ($SECONDS s)"
