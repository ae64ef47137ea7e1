#!/usr/bin/env bash
# Crash safety of the ledger store (cons_ledger): a writer process appends
# certified blocks in a loop (one transaction per block, WAL,
# synchronous=FULL) and is killed with kill -9 at random moments, ROUNDS
# times. After every kill: no block whose append had returned is lost, the
# database passes integrity_check and cons_ledger_verify_all (hash chain,
# certificates, records, reputation replay), and the next writer continues
# from the tip.
# Then wardenctl reads the ledger offline: ledger show (text and JSON),
# verify, export, reputation; and after the tables are tampered with,
# `ledger verify` exits 1 naming the bad block.
# With WARDEN_VERIFY, warden-verify re-checks the export offline too.
# Usage: ledger_crash.sh LEDGER_CRASH_WRITER WARDENCTL [ROUNDS [WARDEN_VERIFY]]
set -euo pipefail
writer=$1
ctl=$2
rounds=${3:-12}
tmp=$(mktemp -d /tmp/warden-ledger-crash-XXXXXX)
trap 'rm -rf "$tmp"' EXIT

committed=0
kills=0
for round in $(seq 1 "$rounds"); do
    : > "$tmp/out"
    "$writer" write "$tmp" > "$tmp/out" 2> "$tmp/err" &
    pid=$!
    # 20..300 ms: lands anywhere in open, replay, build, commit or fsync
    sleep "0.$(printf '%03d' $((20 + RANDOM % 280)))"
    if kill -9 "$pid" 2> /dev/null; then kills=$((kills + 1)); fi
    wait "$pid" 2> /dev/null || true
    last=$(tail -n 1 "$tmp/out" || true)
    [ -n "$last" ] && committed=$last
    height=$("$writer" verify "$tmp") || {
        echo "FAIL: round $round: verify failed" >&2
        exit 1
    }
    if [ "$height" -lt "$committed" ]; then
        echo "FAIL: round $round: committed $committed but the ledger holds $height" >&2
        exit 1
    fi
    committed=$height
done
if [ "$committed" -lt 1 ]; then
    echo "FAIL: no block was ever committed" >&2
    exit 1
fi
fail() {
    echo "FAIL: $*" >&2
    exit 1
}
json() { /usr/bin/python3 -c "import json,sys; j=json.load(open(sys.argv[1])); print($2)" "$1"; }

echo "--- wardenctl reads the ledger without a daemon"
"$ctl" --state "$tmp" ledger verify > "$tmp/verify" || fail "ledger verify: $(cat "$tmp/verify")"
grep -q "ledger ok: $committed blocks" "$tmp/verify" || fail "verify said: $(cat "$tmp/verify")"
"$ctl" --state "$tmp" ledger show --from 2 --limit 3 > "$tmp/show"
[ "$(wc -l < "$tmp/show")" = 4 ] || fail "ledger show: $(cat "$tmp/show")"
"$ctl" --state "$tmp" ledger show --json > "$tmp/show.json"
[ "$(json "$tmp/show.json" 'len(j["blocks"])')" = "$committed" ] || fail "ledger show --json"
[ "$(json "$tmp/show.json" 'j["blocks"][-1]["height"]')" = "$committed" ] || fail "last height"
"$ctl" --state "$tmp" ledger export "$tmp/chain.msgpack" > /dev/null
/usr/bin/python3 - "$tmp/chain.msgpack" "$committed" << 'PY' || fail "export"
import hashlib, sys, msgpack
x = msgpack.unpackb(open(sys.argv[1], "rb").read(), raw=False)
assert x["v"] == 1 and x["height"] == int(sys.argv[2]) == len(x["blocks"])
assert hashlib.sha256(x["genesis"]).digest() == x["chain"]
prev = bytes(32)
for i, (block, cert) in enumerate(x["blocks"]):
    b = msgpack.unpackb(block, raw=False)
    assert b["height"] == i + 1 and b["prev"] == prev
    assert msgpack.unpackb(cert, raw=False)["block"] == hashlib.sha256(block).digest()
    prev = hashlib.sha256(block).digest()
PY
if [ -n "${4:-}" ]; then
    echo "--- warden-verify re-checks the export offline"
    "$4" ledger "$tmp/chain.msgpack" --genesis "$tmp/genesis" > "$tmp/wv" ||
        fail "warden-verify: $(cat "$tmp/wv")"
    grep -q "verified: $committed blocks" "$tmp/wv" || fail "warden-verify said: $(cat "$tmp/wv")"
    grep -q "tip     $(json "$tmp/show.json" 'j["tip"]')" "$tmp/wv" || fail "warden-verify tip"
    /usr/bin/python3 - "$tmp/chain.msgpack" "$tmp/bad.msgpack" << 'PY'
import sys, msgpack
x = bytearray(open(sys.argv[1], "rb").read())
block = msgpack.unpackb(x, raw=False)["blocks"][1][0]  # block 2
i = x.index(block) + block.index(b"\xa4seed\xc4\x20") + 7
x[i] ^= 1
open(sys.argv[2], "wb").write(x)
PY
    if "$4" ledger "$tmp/bad.msgpack" --genesis "$tmp/genesis" > "$tmp/wv"; then
        fail "warden-verify accepted a changed seed"
    fi
    grep -q "FAILED at height 2: CAPSULE_LEDGER_BLOCK_SEED" "$tmp/wv" || fail "said: $(cat "$tmp/wv")"
fi
"$ctl" --state "$tmp" reputation > "$tmp/rep"
grep -q '^node0 ' "$tmp/rep" || fail "reputation: $(cat "$tmp/rep")"
"$ctl" --state "$tmp" reputation --json > "$tmp/rep.json"
[ "$(json "$tmp/rep.json" 'len(j["nodes"])')" = 4 ] || fail "reputation --json"
[ "$(json "$tmp/rep.json" 'j["height"]')" = "$committed" ] || fail "reputation height"

echo "--- a tampered ledger fails verify with the first bad block"
bad=$((committed / 2))
/usr/bin/python3 - "$tmp/ledger.db" "$bad" << 'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("DROP TRIGGER blocks_no_update")
db.execute("UPDATE blocks SET cert = (SELECT cert FROM blocks WHERE height = 1) WHERE height = ?",
           (int(sys.argv[2]),))
db.commit()
PY
rc=0
"$ctl" --state "$tmp" ledger verify 2> "$tmp/err" || rc=$?
[ "$rc" = 1 ] || fail "tampered verify: rc $rc"
grep -q "block $bad: CONS_ERR_CERT_BLOCK" "$tmp/err" || fail "tampered verify: $(cat "$tmp/err")"
rc=0
"$ctl" --state "$tmp/nothing" ledger show > /dev/null 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "no state: rc $rc"

echo "ledger_crash: $kills kill -9 in $rounds rounds, $committed blocks, none lost, verify ok"
