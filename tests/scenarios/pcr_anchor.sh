#!/usr/bin/env bash
# Scenario: PCR checkpoints anchored in a cluster's ledger (issue 10,
# item 4; docs/PROTOCOL.md "Checkpoint anchors").
#   4 wardend nodes on loopback, one genesis; n0 runs the PCR signer on a
#   drop directory ->
#   a real QuantStudio export (tests/vectors/pcr/public) is signed and
#   logged, and its checkpoint is committed as a pcr-checkpoint record in
#   every node's ledger; a second export's checkpoint likewise ->
#   `wardenctl ledger export` from another node: warden-verify bundle
#   --ledger EXPORT --genesis GENESIS says the bundle's checkpoint is
#   anchored (and at which height), also with a consistency proof file;
#   `wardenctl results verify --ledger` agrees ->
#   deleting the newest entry and its checkpoint from results.db (triggers
#   dropped) passes `results verify` alone but fails with --ledger
#   (CAPSULE_ERR_LOG_ANCHOR_AHEAD); a bundle whose checkpoint was altered
#   fails before the ledger is consulted. (A checkpoint the ledger
#   contradicts, CAPSULE_VERIFY_ANCHOR_CONFLICT, needs a second tree signed
#   by the node key: tests/unit/test_pcr_anchor.c.)
# Usage: pcr_anchor.sh WARDEND WARDENCTL WARDEN_VERIFY VECTORS_DIR
set -euo pipefail
WARDEND=$1
WARDENCTL=$2
VERIFY=$3
VECTORS=$4
N=4
HERE=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d /tmp/warden-pcr-anchor-XXXXXX)
# shellcheck source=mesh_lib.sh
source "$HERE/mesh_lib.sh"
trap 'mesh_cleanup; rm -rf "$tmp"' EXIT
step() { echo "--- $* ($SECONDS s)"; }

# anchored INDEX SIZE: node INDEX's ledger holds a pcr-checkpoint record
# whose note is of SIZE entries; prints its height.
anchored() {
    "$PY" - "$tmp/n$1/ledger.db" "$2" <<'EOF'
import msgpack, sqlite3, sys
db = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True, timeout=5)
for h, env in db.execute("select height, envelope from records where type = 'pcr-checkpoint'"):
    note = msgpack.unpackb(msgpack.unpackb(env)["body"])["note"]
    if note.split("\n")[1] == sys.argv[2]:
        print(h)
        sys.exit(0)
sys.exit(1)
EOF
}
anchored_all() {
    local i
    for ((i = 0; i < N; i++)); do anchored "$i" "$1" > /dev/null || return 1; done
}
entries() { mesh_ctl 0 results list --json | "$PY" -c "import json,sys; print(len(json.load(sys.stdin)))"; }

step "a 4-node cluster, n0 signing results from a drop directory"
mesh_make $N
mkdir -p "$tmp/drop"
cat > "$tmp/n0/conf.d/60-pcr.conf" <<EOF
pcr
    enable = "true"
    drop_dir = "$tmp/drop"
    scan = "100ms"
EOF
for ((i = 0; i < N; i++)); do mesh_start "$i"; done
for ((i = 0; i < N; i++)); do mesh_wait_up "$i"; done

step "a real export is signed, and its checkpoint is committed in every ledger"
cp "$VECTORS/pcr/public/appbio_quantstudio_test05.txt" "$tmp/drop/test05.txt"
mesh_wait 20 bash -c "[ \"\$($WARDENCTL --state $tmp/n0 results list --json | $PY -c 'import json,sys; print(len(json.load(sys.stdin)))')\" = 1 ]" ||
    mesh_fail "the export was not logged"
mesh_wait 30 anchored_all 1 || mesh_fail "the checkpoint of 1 entry is not in every ledger"
h1=$(anchored 0 1)
echo "checkpoint of 1 entry anchored at height $h1 on every node"
mesh_ctl 0 results bundle 0 --output "$tmp/b0.bundle"

step "a second export, a second anchor"
cp "$VECTORS/pcr/public/appbio_quantstudio_test07.txt" "$tmp/drop/test07.txt"
mesh_wait 20 bash -c "[ \"\$($WARDENCTL --state $tmp/n0 results list --json | $PY -c 'import json,sys; print(len(json.load(sys.stdin)))')\" = 2 ]" ||
    mesh_fail "the second export was not logged"
mesh_wait 30 anchored_all 2 || mesh_fail "the checkpoint of 2 entries is not in every ledger"
[ "$(entries)" = 2 ]
mesh_ctl 0 results bundle 1 --output "$tmp/b1.bundle"

step "offline: the bundles' checkpoints are anchored in n3's exported ledger"
mesh_ctl 3 ledger export "$tmp/ledger.export" > /dev/null
"$VERIFY" ledger "$tmp/ledger.export" --genesis "$tmp/genesis" > /dev/null
out=$("$VERIFY" bundle "$tmp/b0.bundle" --ledger "$tmp/ledger.export" --genesis "$tmp/genesis")
echo "$out"
grep -q "checkpoint anchored at height $h1" <<< "$out" || mesh_fail "b0: not anchored at $h1"
"$VERIFY" bundle "$tmp/b1.bundle" --ledger "$tmp/ledger.export" --json > "$tmp/b1.json" ||
    mesh_fail "b1 does not verify against the ledger"
[ "$(json "$tmp/b1.json" "j['anchor_exact'] and j['anchored_size'] == 2 and not j['genesis_pinned']")" = True ] ||
    mesh_fail "b1: $(cat "$tmp/b1.json")"
mesh_ctl 0 results consistency 1 2 --output "$tmp/proof.1-2"
"$VERIFY" bundle "$tmp/b0.bundle" --ledger "$tmp/ledger.export" --genesis "$tmp/genesis" \
    --consistency "$tmp/proof.1-2" > /dev/null || mesh_fail "b0 with a consistency proof"
# the python procedure still checks the bundle itself
"$PY" "$HERE/pcr_verify.py" "$tmp/b0.bundle" > /dev/null

step "wardenctl results verify --ledger"
mesh_ctl 0 results verify --ledger "$tmp/ledger.export" | tee "$tmp/verify.txt"
grep -q "the newest covers 2 of 2 entries" "$tmp/verify.txt" || mesh_fail "results verify --ledger"

step "the newest entry and its checkpoint deleted: only the ledger notices"
mesh_cleanup
cp "$tmp/n0/results.db" "$tmp/cut.db"
"$PY" - "$tmp/cut.db" <<'EOF'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
for t in ("entries", "checkpoints"):
    for op in ("update", "delete"):
        db.execute("drop trigger if exists %s_no_%s" % (t, op))
db.execute("delete from entries where idx = 1")
db.execute("delete from checkpoints where size = 2")
db.commit()
EOF
"$WARDENCTL" --state "$tmp/n0" results verify --log "$tmp/cut.db" > /dev/null ||
    mesh_fail "the cut log should verify on its own"
set +e
"$WARDENCTL" --state "$tmp/n0" results verify --log "$tmp/cut.db" --ledger "$tmp/ledger.export" \
    > "$tmp/cut.txt"
rc=$?
set -e
cat "$tmp/cut.txt"
[ $rc = 1 ] && grep -q CAPSULE_ERR_LOG_ANCHOR_AHEAD "$tmp/cut.txt" || mesh_fail "cut log: rc $rc"

step "an altered checkpoint fails before the ledger is consulted"
"$PY" - "$tmp/b0.bundle" "$tmp/forged.bundle" <<'EOF'
# the checkpoint claims 2 entries: its signature no longer verifies
import msgpack, sys
b = msgpack.unpackb(open(sys.argv[1], "rb").read())
b["checkpoint"] = b["checkpoint"].replace("\n1\n", "\n2\n", 1)
open(sys.argv[2], "wb").write(msgpack.packb(b))
EOF
set +e
"$VERIFY" bundle "$tmp/forged.bundle" --ledger "$tmp/ledger.export" > "$tmp/forged.txt"
rc=$?
set -e
[ $rc = 1 ] && grep -q CAPSULE_VERIFY_CHECKPOINT "$tmp/forged.txt" || mesh_fail "forged: $(cat "$tmp/forged.txt")"
mesh_check_logs
echo "PASS ($SECONDS s)"
