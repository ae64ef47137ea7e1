#!/usr/bin/env bash
# Host attestation end to end (issue 4, items 5-7): a real wardend whose
# engine runs the attestation server, and a real warden-agent, as separate
# processes on 127.0.0.1. Checks, through wardenctl only:
#   - a boot token from `wardenctl attest token` admits the agent (the
#     printed kernel command line is what the agent reads); challenges pass;
#     `attest host` shows the host trusted; `attest evidence` lists pass
#     records that verify against node.cert;
#   - changing a measured file on the agent's side makes the next challenge
#     that covers it fail; the fail evidence verifies; the hook ran with the
#     outcome in its environment; the host is untrusted;
#   - a reused token is refused (a second agent exits 1);
#   - a replayed response (old nonce) and forged signatures are rejected
#     with their reasons (agent_forge.py against wardend's server);
#   - killing the agent gives a missed record;
#   - kill -9 of the engine: the records are still there after its restart,
#     attest.db passes PRAGMA integrity_check and refuses UPDATE/DELETE.
# Usage: wardend_agent.sh WARDEND WARDENCTL WARDEN_AGENT AGENT_FORGE_PY
set -euo pipefail
WARDEND=$1
WARDENCTL=$2
AGENT=$3
FORGE=$4
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=mesh_lib.sh
source "$HERE/mesh_lib.sh" # PY, json, mesh_wait

tmp=$(mktemp -d /tmp/warden-wardend-agent-XXXXXX)
state=$tmp/node
daemon_pid=
agent_pid=
cleanup() {
    [ -n "$agent_pid" ] && kill -KILL "$agent_pid" 2>/dev/null || true
    [ -n "$daemon_pid" ] && kill -KILL "$daemon_pid" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT

step() { echo "--- $*"; }
fail() {
    echo "FAIL: $*" >&2
    [ -f "$tmp/wardend.log" ] && tail -n 60 "$tmp/wardend.log" | sed 's/^/  log: /' >&2
    [ -f "$tmp/agent.err" ] && tail -n 20 "$tmp/agent.err" | sed 's/^/  agent: /' >&2
    exit 1
}
ctl() { "$WARDENCTL" --state "$state" "$@"; }
# evidence_has EXPR: the stored evidence (as JSON `j`) satisfies EXPR.
evidence_has() {
    ctl attest evidence --limit 1000 --json >"$tmp/ev.json" &&
        [ "$(json "$tmp/ev.json" "$1")" = True ]
}
host_has() {
    ctl attest host --json >"$tmp/host.json" && [ "$(json "$tmp/host.json" "$1")" = True ]
}
sha256() { sha256sum "$1" | cut -d' ' -f1; }

step "a node with host attestation configured"
"$WARDENCTL" init --state "$state" --name attest-node >/dev/null
PORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
ENDPOINT=tcp://127.0.0.1:$PORT
mkdir -p "$tmp/host"
printf 'measured file\n' >"$tmp/host/measured.conf"
printf 'another file\n' >"$tmp/host/other.bin"
head -c 262144 /dev/urandom >"$tmp/host/disk.img"
cat >"$tmp/policy.json" <<EOF
{"meta": {"version": 1, "generator": 0}, "release": 0,
 "digests": {"$tmp/host/measured.conf": ["$(sha256 "$tmp/host/measured.conf")"],
             "$tmp/host/other.bin": ["$(sha256 "$tmp/host/other.bin")"]},
 "excludes": [], "keyrings": {},
 "ima": {"ignored_keyrings": [], "log_hash_alg": "sha256", "dm_policy": null},
 "ima-buf": {}, "verification-keys": ""}
EOF
cat >"$tmp/items" <<EOF
# challenge items of the scenario's host
file $tmp/host/measured.conf
file $tmp/host/other.bin
range $tmp/host/disk.img 65536 4096
modules
ima
EOF
cat >"$tmp/hook.sh" <<EOF
#!/bin/sh
echo "\$WARDEN_HOST \$WARDEN_OUTCOME \$WARDEN_SEQ \$WARDEN_HOST_STATE \$WARDEN_FAILED" >>$tmp/hook.log
EOF
chmod +x "$tmp/hook.sh"
# The agent runs on this machine, so the expected command line is ours.
cmdline=$(tr -d '\n' </proc/cmdline)
mkdir -p "$state/conf.d"
cat >"$state/conf.d/50-attest.conf" <<EOF
attest
    listen = "$ENDPOINT"
    items = "$tmp/items"
    policy = "$tmp/policy.json"
    cmdline = "$cmdline"
    interval = "300ms"
    deadline = "1500ms"
    min_items = 2
    hook = "$tmp/hook.sh"
EOF
"$WARDEND" -c "$state/warden.conf" --check-config >/dev/null || fail "check-config"

"$WARDEND" -c "$state/warden.conf" -l debug 2>"$tmp/wardend.log" &
daemon_pid=$!
mesh_wait 10 ctl status || fail "wardend did not start"
grep -q "attest: serving host agents on $ENDPOINT (6 items" "$tmp/wardend.log" ||
    fail "the engine does not serve host agents"
host_has 'j["listen"] == "'"$ENDPOINT"'" and j["hosts"] == []' || fail "attest host before tokens"
echo "ok: the engine serves $ENDPOINT"

step "usage errors and refusals"
rc=0; ctl attest token >/dev/null 2>&1 || rc=$?
[ $rc = 2 ] || fail "token without --host: exit $rc"
rc=0; ctl attest evidence --limit 0 >/dev/null 2>&1 || rc=$?
[ $rc = 2 ] || fail "evidence --limit 0: exit $rc"
rc=0; ctl attest challenge --host nobody >/dev/null 2>&1 || rc=$?
[ $rc = 1 ] || fail "challenge of an unknown host: exit $rc"
rc=0; ctl attest host --host nobody >/dev/null 2>&1 || rc=$?
[ $rc = 1 ] || fail "host of an unknown host: exit $rc"
rc=0; "$WARDENCTL" --state "$tmp/none" attest host >/dev/null 2>&1 || rc=$?
[ $rc = 1 ] || fail "no wardend: exit $rc"
echo "ok: exit codes"

step "warden-agent usage: --help works; missing or malformed settings are exit 2"
"$AGENT" --help | grep -q -- '--server-key' || fail "warden-agent --help"
printf 'quiet ro\n' >"$tmp/cmdline.none"
rc=0; "$AGENT" --cmdline "$tmp/cmdline.none" 2>/dev/null || rc=$?
[ "$rc" -eq 2 ] || fail "agent without settings: exit $rc"
rc=0; "$AGENT" --server tcp://127.0.0.1:1 --server-key abc --token t 2>/dev/null || rc=$?
[ "$rc" -eq 2 ] || fail "agent with a bad key: exit $rc"
printf 'warden.server=tcp://127.0.0.1:1 warden.server_key=%064d warden.token=a\x01b\n' 0 \
    >"$tmp/cmdline.badtoken"
rc=0; "$AGENT" --cmdline "$tmp/cmdline.badtoken" 2>/dev/null || rc=$?
[ "$rc" -eq 2 ] || fail "agent with a bad token: exit $rc"
echo "ok: agent usage errors"

step "a boot token from wardenctl admits the agent; challenges pass"
ctl attest token --host hostA --json >"$tmp/token.json"
key=$(ctl keys show --json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["curve_pk"])')
[ "$(json "$tmp/token.json" 'j["server_key"]')" = "$key" ] || fail "token: server key"
printf 'quiet %s ro\n' "$(json "$tmp/token.json" 'j["cmdline"]')" >"$tmp/cmdline.boot"
grep -q "warden.server=$ENDPOINT warden.server_key=$key warden.token=" "$tmp/cmdline.boot" ||
    fail "token: kernel command line"
ctl attest token --host hostA | grep -q '^kernel command line:' || fail "token: text form"
# The second token replaced the first: take the newest.
ctl attest token --host hostA --json >"$tmp/token.json"
printf 'quiet %s ro\n' "$(json "$tmp/token.json" 'j["cmdline"]')" >"$tmp/cmdline.boot"
host_has '[h["state"] for h in j["hosts"]] == ["waiting"]' || fail "hostA is not waiting"
"$AGENT" --cmdline "$tmp/cmdline.boot" --host hostA 2>"$tmp/agent.err" &
agent_pid=$!
mesh_wait 20 host_has '[(h["state"], h["passed"] >= 4) for h in j["hosts"]] == [("trusted", True)]' ||
    fail "hostA is not trusted after four challenges"
ctl attest challenge --host hostA | grep -q "challenged 1 host" || fail "challenge on demand"
mesh_wait 10 host_has 'any(o["on_demand"] and o["outcome"] == "pass" for o in j["hosts"][0]["history"])' ||
    fail "no on-demand challenge passed"
ctl attest host | grep -q "^host hostA  trusted" || fail "attest host: text form"
mesh_wait 10 evidence_has 'j["unverified"] == 0 and sum(r["outcome"] == "pass" and r["subject"]["host"] == "hostA" for r in j["records"]) >= 4' ||
    fail "no four verified pass records"
[ "$(json "$tmp/ev.json" 'len({tuple(i["item"] for i in r["items"]) for r in j["records"]}) >= 2')" = True ] ||
    fail "challenged item subsets do not vary"
json "$tmp/ev.json" 'j["records"][0]["key_protection"], j["records"][0]["tamper"]' |
    grep -q "software" || fail "evidence: key protection"
ctl attest evidence --host hostA --limit 3 | grep -c "verified$" | grep -q '^3$' ||
    fail "attest evidence: text form"
echo "ok: challenges pass; evidence verifies"

step "a reused token is refused"
rc=0
timeout 20 "$AGENT" --cmdline "$tmp/cmdline.boot" --host hostA 2>"$tmp/agent2.err" || rc=$?
[ $rc = 1 ] || fail "second agent with a used token exited $rc"
grep -q ATTEST_ERR_AGENT_TOKEN_REFUSED "$tmp/agent2.err" || fail "no token refusal reason"
echo "ok: a used boot token is refused"

step "changing a measured file fails the next challenge that covers it"
printf 'tampered\n' >"$tmp/host/measured.conf"
fail_expr='any(r["outcome"] == "fail" and r["subject"]["host"] == "hostA" and any(i["item"].endswith("measured.conf") and i["result"] == "fail" for i in r["failing"]) for r in j["records"])'
for _ in $(seq 60); do
    evidence_has "$fail_expr" && break
    ctl attest challenge --host hostA >/dev/null 2>&1 || true
    sleep 0.25
done
evidence_has "$fail_expr" || fail "no fail evidence for the changed file"
evidence_has 'j["unverified"] == 0' || fail "fail evidence does not verify"
mesh_wait 10 grep -q "^hostA fail [0-9]* untrusted .*measured.conf" "$tmp/hook.log" ||
    fail "the hook did not run for the failure"
host_has 'j["hosts"][0]["state"] == "untrusted" and j["hosts"][0]["failed"] >= 1' ||
    fail "hostA is not untrusted"
grep -q "attest: host hostA challenge [0-9]* fail" "$tmp/wardend.log" || fail "no failure log line"
echo "ok: a changed file fails; evidence, hook, untrusted"

step "replayed and forged responses are rejected with their reasons"
forge_token=$(ctl attest token --host forger --json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["token"])')
"$PY" "$FORGE" "$ENDPOINT" "$key" "$forge_token" >"$tmp/forge.out" || {
    cat "$tmp/forge.out" >&2
    fail "agent_forge.py"
}
for reason in ATTEST_ERR_AGENT_NONCE WD_ERR_BAD_SIGNATURE ATTEST_ERR_AGENT_SESSION_KEY; do
    mesh_wait 5 grep -q "rejected a message from forger: .*($reason)" "$tmp/wardend.log" ||
        fail "no rejection $reason in the log"
done
host_has '[h["rejected"] for h in j["hosts"] if h["host"] == "forger"] == [3]' ||
    fail "forger's rejections are not counted"
# Garbage from a peer that never said hello: counted, and the engine lives on.
"$PY" - "$ENDPOINT" "$key" <<'EOF' || fail "garbage sender"
import sys, time, zmq, zmq.utils.z85
ctx = zmq.Context()
s = ctx.socket(zmq.DEALER)
s.curve_publickey, s.curve_secretkey = zmq.curve_keypair()
s.curve_serverkey = zmq.utils.z85.encode(bytes.fromhex(sys.argv[2]))
s.linger = 1000
s.connect(sys.argv[1])
for frame in (b"", b"\xc1", b"\x81\xa1t\xa9challenge", bytes(range(256)) * 8):
    s.send(frame)
time.sleep(0.3)
s.close()
ctx.term()
EOF
mesh_wait 5 host_has 'j["rejected_unknown"] >= 4' || fail "garbage frames were not counted"
ctl status >/dev/null || fail "the engine did not survive garbage"
echo "ok: replay and forgeries rejected; garbage counted"

step "killing the agent gives a missed record"
kill -KILL "$agent_pid"
wait "$agent_pid" 2>/dev/null || true
agent_pid=
mesh_wait 20 evidence_has 'any(r["outcome"] == "missed" and r["subject"]["host"] == "hostA" for r in j["records"])' ||
    fail "no missed record after the agent died"
evidence_has 'j["unverified"] == 0' || fail "missed evidence does not verify"
mesh_wait 10 grep -q "^hostA missed " "$tmp/hook.log" || fail "the hook did not run for the miss"
echo "ok: a dead agent misses; recorded"

step "evidence survives kill -9 of the engine"
ctl attest evidence --limit 1000 --json >"$tmp/before.json"
before=$(json "$tmp/before.json" 'len(j["records"])')
ctl status --json >"$tmp/status.json"
engine=$(json "$tmp/status.json" '[p["pid"] for p in j["processes"] if p["name"] == "engine"][0]')
kill -KILL "$engine"
mesh_wait 15 eval 'ctl status --json >"$tmp/status.json" && [ "$(json "$tmp/status.json" "[p[\"pid\"] for p in j[\"processes\"] if p[\"name\"] == \"engine\"][0]")" != "$engine" ]' ||
    fail "the engine did not come back"
mesh_wait 10 evidence_has 'len(j["records"]) >= '"$before"' and j["unverified"] == 0' ||
    fail "records lost over the engine restart"
"$PY" - "$state/attest.db" "$before" <<'EOF' || fail "attest.db checks"
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok", "integrity_check"
assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal", "not WAL"
assert db.execute("PRAGMA user_version").fetchone()[0] == 1, "schema version"
assert db.execute("SELECT count(*) FROM evidence").fetchone()[0] >= int(sys.argv[2])
for sql in ("UPDATE evidence SET outcome = 'pass'", "DELETE FROM evidence"):
    try:
        db.execute(sql)
        sys.exit(f"{sql!r} was allowed")
    except sqlite3.DatabaseError as e:
        assert "append-only" in str(e), e
print("attest.db: integrity ok, WAL, version 1, append-only")
EOF
echo "ok: $before records survive; attest.db is sound"

step "records sealed before a genesis still verify after one is installed"
"$WARDENCTL" genesis create --name agent-test --node "$state/node.cert" --out "$state/genesis" \
    >/dev/null
kill -HUP "$daemon_pid"
mesh_wait 15 evidence_has 'j["chain"] != "00" * 32 and len(j["records"]) >= '"$before"' and j["unverified"] == 0' ||
    fail "after the genesis: $(cat "$tmp/ev.json")"
echo "ok: zero-chain records verify under the new chain's node"

step "wardend stops cleanly"
kill -TERM "$daemon_pid"
wait "$daemon_pid" || fail "wardend exited $?"
daemon_pid=
# In a sanitizer build an error kills a child, which the parent restarts:
# make such reports fail the scenario instead of passing unnoticed.
if grep -q "Sanitizer\|runtime error:" "$tmp/wardend.log" "$tmp"/agent*.err; then
    fail "sanitizer report"
fi
echo PASS
