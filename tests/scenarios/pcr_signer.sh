#!/usr/bin/env bash
# Scenario: the PCR signer end to end on real processes, a real
# pseudo-terminal and a real SQLite file (issue 10).
#   an instrument stand-in writes framed exports into a pty (one good AB
#   export, a QuantStudio export, a duplicate, a corrupted frame, an RDML
#   archive, an unparsable file, a truncated frame); a file lands in the
#   drop directory -> wardend signs each through its keys process and logs
#   it -> wardenctl results list/get/verify -> every bundle passes
#   warden-verify (with the original and the pinned key) and an independent
#   Python+PyNaCl check -> a flipped byte fails -> nothing came back on the
#   line -> with wardend stopped, an edited row is caught by results verify.
# Usage: pcr_signer.sh WARDEND WARDENCTL WARDEN_VERIFY VECTORS_DIR
set -euo pipefail
WARDEND=$1
WARDENCTL=$2
VERIFY=$3
VECTORS=$4/pcr
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=mesh_lib.sh
source "$HERE/mesh_lib.sh" # PY, json, mesh_wait

tmp=$(mktemp -d /tmp/warden-pcr-XXXXXX)
state=$tmp/node
daemon_pid=
daemon2_pid=
inst_pid=
cleanup() {
    [ -n "$daemon2_pid" ] && kill -TERM "$daemon2_pid" 2>/dev/null || true
    [ -n "$inst_pid" ] && kill "$inst_pid" 2>/dev/null || true
    [ -n "$daemon_pid" ] && kill -TERM "$daemon_pid" 2>/dev/null || true
    [ -n "$daemon_pid" ] && wait "$daemon_pid" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT
step() { echo "--- $*"; }
fail() {
    echo "FAIL: $*" >&2
    [ -f "$tmp/wardend.log" ] && sed 's/^/  log: /' "$tmp/wardend.log" >&2
    exit 1
}
ctl() { "$WARDENCTL" --state "$state" "$@"; }

step "an instrument on a pseudo-terminal, a node configured to read it"
mkfifo "$tmp/cmds"
"$PY" "$HERE/pcr_instrument.py" "$tmp/pty" "$tmp/cmds" 2> "$tmp/instrument.err" &
inst_pid=$!
exec 9> "$tmp/cmds" # keep the command pipe open between commands
mesh_wait 5 test -s "$tmp/pty" || fail "no pty"
mkdir -p "$tmp/drop"
"$WARDENCTL" init --state "$state" --name lab-a > /dev/null
mkdir -p "$state/conf.d"
cat > "$state/conf.d/50-pcr.conf" <<CONF
pcr
    enable = "true"
    device = "$(cat "$tmp/pty")"
    baud = "9600"
    drop_dir = "$tmp/drop"
    idle = "300ms"
    scan = "100ms"
CONF
"$WARDEND" -c "$state/warden.conf" -l debug 2> "$tmp/wardend.log" &
daemon_pid=$!
mesh_wait 10 grep -q "pcr: signing results from" "$tmp/wardend.log" || fail "pcr did not start"
ctl keys show --json > "$tmp/keys.json"
json "$tmp/keys.json" "j['sign_pk']" > "$tmp/trusted.keys"

step "frames over the line, a file in the drop directory"
printf 'not an export\x00\x01\x02' > "$tmp/garbage.bin"
cat >&9 <<CMDS
frame 1 plate14.txt $VECTORS/ab7500_sample.txt
frame 2 run_0031.txt $VECTORS/quantstudio_sample.txt
frame 2 run_0031.txt $VECTORS/quantstudio_sample.txt
frame 3 broken.txt $VECTORS/ab7500_sample.txt digest
noise some line noise
frame 5 sample.rdml $VECTORS/sample.rdml
frame 6 garbage.bin $tmp/garbage.bin
frame 7 cut.txt $VECTORS/ab7500_sample.txt truncate
CMDS
cp "$VECTORS/quantstudio_sample.txt" "$tmp/drop/dropped.txt"
count() { [ "$(ctl results list --json | "$PY" -c 'import json,sys; print(len(json.load(sys.stdin)))')" = "$1" ]; }
mesh_wait 20 count 5 || fail "expected 5 logged results: $(ctl results list 2>&1)"
mesh_wait 10 grep -q "CAPSULE_ERR_FRAME_TRUNCATED" "$tmp/wardend.log" || fail "truncation not reported"
for code in CAPSULE_ERR_FRAME_DUPLICATE CAPSULE_ERR_FRAME_DIGEST CAPSULE_ERR_FRAME_NOISE \
            CAPSULE_ERR_FRAME_GAP; do
    grep -q "$code" "$tmp/wardend.log" || fail "$code not reported"
done
mesh_wait 5 test -f "$tmp/drop/done/dropped.txt" || fail "dropped file not moved to done/"
[ ! -e "$tmp/drop/dropped.txt" ] || fail "dropped file still in the drop directory"

step "wardenctl results list / get / verify"
ctl results list --json > "$tmp/list.json"
[ "$(json "$tmp/list.json" "sorted(e['name'] for e in j)")" = \
  "['dropped.txt', 'garbage.bin', 'plate14.txt', 'run_0031.txt', 'sample.rdml']" ] ||
    fail "logged names: $(cat "$tmp/list.json")"
[ "$(json "$tmp/list.json" "[e['seq'] for e in j if e['name']=='sample.rdml'][0]")" = 5 ] ||
    fail "channel sequence"
[ "$(json "$tmp/list.json" "[e['parsed'] for e in j if e['name']=='garbage.bin'][0]")" = False ] ||
    fail "garbage should be signed with parsed false"
idx=$(json "$tmp/list.json" "[e['index'] for e in j if e['name']=='plate14.txt'][0]")
ctl results get "$idx" --output "$tmp/plate14.out"
cmp "$tmp/plate14.out" "$VECTORS/ab7500_sample.txt" || fail "raw bytes differ from what was sent"
mesh_wait 10 ctl results verify || fail "results verify: $(ctl results verify 2>&1)"
ctl results verify --json > "$tmp/verify.json"
[ "$(json "$tmp/verify.json" "j['entries']")" = 5 ] || fail "verify: $(cat "$tmp/verify.json")"

first_cp=$("$PY" -c 'import sqlite3, sys
db = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True)
print(db.execute("SELECT min(size) FROM checkpoints").fetchone()[0])' "$state/results.db")
ctl results consistency "$first_cp" --json > "$tmp/cons.json" ||
    fail "consistency from the checkpoint of $first_cp: $(cat "$tmp/cons.json")"
[ "$(json "$tmp/cons.json" "j['old_size'], j['new_size']")" = "$first_cp 5" ] ||
    fail "consistency: $(cat "$tmp/cons.json")"

step "every bundle verifies offline (warden-verify and Python+PyNaCl)"
mesh_wait 10 ctl results bundle 4 --output "$tmp/b4" || fail "no checkpoint covers entry 4"
for i in 0 1 2 3 4; do
    name=$(json "$tmp/list.json" "[e['name'] for e in j if e['index']==$i][0]")
    ctl results bundle "$i" --output "$tmp/b$i"
    case $name in
        plate14.txt) orig=$VECTORS/ab7500_sample.txt ;;
        run_0031.txt|dropped.txt) orig=$VECTORS/quantstudio_sample.txt ;;
        sample.rdml) orig=$VECTORS/sample.rdml ;;
        garbage.bin) orig=$tmp/garbage.bin ;;
    esac
    "$VERIFY" bundle "$tmp/b$i" --raw "$orig" --trusted-keys "$tmp/trusted.keys" --json \
        > "$tmp/v$i.json" || fail "warden-verify bundle $i: $(cat "$tmp/v$i.json")"
    [ "$(json "$tmp/v$i.json" "j['verdict'], j['name'], j['key_pinned']")" = \
      "verified $name True" ] || fail "bundle $i summary: $(cat "$tmp/v$i.json")"
    "$PY" "$HERE/pcr_verify.py" "$tmp/b$i" "$orig" > "$tmp/py$i.out" ||
        fail "Python check of bundle $i: $(cat "$tmp/py$i.out")"
    [ "$(cut -d' ' -f3 "$tmp/py$i.out")" = "$(sha256sum "$orig" | cut -d' ' -f1)" ] ||
        fail "sha256sum disagrees"
done
[ "$(json "$tmp/v$idx.json" "j['instrument_type'], j['parsed']")" = "sds7500fast True" ] ||
    fail "AB metadata in the statement"
ctl results bundle 0 --digest-only --output "$tmp/d0"
"$VERIFY" bundle "$tmp/d0" > "$tmp/d0.out" || fail "digest-only bundle"
grep -q "digest only" "$tmp/d0.out" || fail "digest-only summary"

step "a flipped byte, a wrong original, an untrusted key: exit 1 with the reason"
cp "$tmp/b0" "$tmp/flip"
printf '\x00' | dd of="$tmp/flip" bs=1 seek=200 conv=notrunc status=none
rc=0; "$VERIFY" bundle "$tmp/flip" > "$tmp/flip.out" || rc=$?
[ $rc = 1 ] && grep -q "^FAILED CAPSULE_VERIFY_" "$tmp/flip.out" || fail "flipped byte: rc $rc"
rc=0; "$VERIFY" bundle "$tmp/b0" --raw "$tmp/keys.json" > "$tmp/o.out" || rc=$?
[ $rc = 1 ] && grep -q CAPSULE_VERIFY_ORIGINAL_MISMATCH "$tmp/o.out" ||
    fail "wrong original: rc $rc"
echo 0000000000000000000000000000000000000000000000000000000000000000 > "$tmp/other.keys"
rc=0; "$VERIFY" bundle "$tmp/b0" --trusted-keys "$tmp/other.keys" > "$tmp/u.out" || rc=$?
[ $rc = 1 ] && grep -q CAPSULE_VERIFY_KEY_UNTRUSTED "$tmp/u.out" || fail "untrusted key: rc $rc"
rc=0; "$VERIFY" bundle "$tmp/nonexistent" 2> /dev/null || rc=$?
[ $rc = 2 ] || fail "missing bundle: rc $rc"

step "restart: the channel's sequence continues from the log"
kill -TERM "$daemon_pid"
wait "$daemon_pid" || true
"$WARDEND" -c "$state/warden.conf" -l debug 2>> "$tmp/wardend.log" &
daemon_pid=$!
started_twice() { [ "$(grep -c "pcr: signing results from" "$tmp/wardend.log")" = 2 ]; }
mesh_wait 10 started_twice || fail "pcr did not restart"
cat >&9 <<CMDS
frame 6 again.bin $tmp/garbage.bin
frame 8 plate15.txt $VECTORS/ab7500_sample.txt
CMDS
mesh_wait 20 count 6 || fail "frame 8 after the restart not logged"
grep -q "frame 6: .*CAPSULE_ERR_FRAME_DUPLICATE" "$tmp/wardend.log" ||
    fail "frame 6 after the restart not refused as a duplicate"
grep -q "missing 7..7" "$tmp/wardend.log" || fail "the gap at 7 not reported"

step "one-way: nothing came back on the line"
echo quit >&9
exec 9>&-
wait "$inst_pid" || fail "the instrument side received bytes: $(cat "$tmp/instrument.err")"
inst_pid=

step "standard input: the same framing from a pipe"
state2=$tmp/node2
"$WARDENCTL" init --state "$state2" --name lab-b > /dev/null
mkdir -p "$state2/conf.d"
printf 'pcr\n    enable = "true"\n    stdin = "true"\n' > "$state2/conf.d/50-pcr.conf"
"$PY" -c '
import sys, time
sys.path.insert(0, sys.argv[1])
from pcr_instrument import frame
time.sleep(0.5)
sys.stdout.buffer.write(frame(1, "piped.txt", open(sys.argv[2], "rb").read()))
sys.stdout.flush()
import select  # wait (at most 30 s) until wardend closes the pipe
p = select.poll()
p.register(sys.stdout.fileno(), select.POLLERR)
p.poll(30000)' "$HERE" "$VECTORS/quantstudio_sample.txt" |
    "$WARDEND" -c "$state2/warden.conf" 2> "$tmp/wardend2.log" &
daemon2_pid=$!
stdin_ok() { "$WARDENCTL" --state "$state2" results list | grep -q "stdin .* piped.txt"; }
mesh_wait 20 stdin_ok || fail "piped result not logged: $(cat "$tmp/wardend2.log")"
kill -TERM "$daemon2_pid" 2>/dev/null || true
wait "$daemon2_pid" 2>/dev/null || true
daemon2_pid=

step "a stopped node's log file, edited: results verify says where"
kill -TERM "$daemon_pid"
wait "$daemon_pid" || true
daemon_pid=
! grep -q "Sanitizer" "$tmp/wardend.log" || fail "sanitizer report in wardend's log"
"$PY" - "$state/results.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.executescript("DROP TRIGGER entries_no_update;"
                 "UPDATE entries SET raw = CAST('forged' AS BLOB) WHERE idx = 2;")
db.commit()
PY
rc=0; ctl results verify > "$tmp/tamper.out" || rc=$?
[ $rc = 1 ] && grep -q "CAPSULE_ERR_LOG_DIGEST" "$tmp/tamper.out" ||
    fail "edited row: rc $rc, $(cat "$tmp/tamper.out")"
echo "pcr_signer: all steps passed"
