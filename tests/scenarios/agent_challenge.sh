#!/bin/bash
# Host attestation on loopback (issue 4, item 7): warden-agent as a separate
# process answers the challenges of attest_serve (an attest_server on a
# zloop). Checks: challenges pass; changing a measured file on the agent's
# side makes the next challenge that covers it fail, records the failure
# and runs the hook; a second agent with a used token is refused; a
# replayed response (old nonce) and forged signatures are rejected
# (agent_forge.py); killing the agent gives a missed outcome and runs the
# hook; the host ends untrusted.
#
# Usage: agent_challenge.sh ATTEST_SERVE WARDEN_AGENT AGENT_FORGE_PY
set -euo pipefail

SERVE=$1
AGENT=$2
FORGE=$3
PY=/usr/bin/python3

TMP=$(mktemp -d /tmp/warden-agent-XXXXXX)
SERVE_PID=
AGENT_PID=
cleanup() {
    [ -n "$AGENT_PID" ] && kill -9 "$AGENT_PID" 2>/dev/null || true
    [ -n "$SERVE_PID" ] && kill -9 "$SERVE_PID" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT

fail() {
    echo "FAIL: $*" >&2
    echo "--- attest_serve output" >&2
    cut -c1-400 "$TMP/serve.out" >&2 || true
    echo "--- attest_serve / agent stderr" >&2
    cat "$TMP/serve.err" "$TMP/agent.err" >&2 2>/dev/null || true
    exit 1
}

# Waits up to $1 seconds for the Python predicate $2 over the outcome lines
# (a list `ev` of parsed JSON objects) to hold.
wait_for() {
    local secs=$1 pred=$2 i
    for ((i = 0; i < secs * 10; i++)); do
        if "$PY" - "$TMP/serve.out" "$pred" <<'EOF'; then return 0; fi
import json, sys
ev = []
for line in open(sys.argv[1]):
    try:
        ev.append(json.loads(line))
    except ValueError:
        pass
sys.exit(0 if eval(sys.argv[2]) else 1)
EOF
        sleep 0.1
    done
    return 1
}

# Usage: --help works; missing or malformed settings are exit 2.
"$AGENT" --help | grep -q -- '--server-key' || fail "warden-agent --help"
printf 'quiet ro\n' >"$TMP/cmdline.none"
rc=0; "$AGENT" --cmdline "$TMP/cmdline.none" 2>/dev/null || rc=$?
[ "$rc" -eq 2 ] || fail "no settings: exit $rc"
rc=0; "$AGENT" --server tcp://127.0.0.1:1 --server-key abc --token t 2>/dev/null || rc=$?
[ "$rc" -eq 2 ] || fail "bad key: exit $rc"
printf 'warden.server=tcp://127.0.0.1:1 warden.server_key=%064d warden.token=a\x01b\n' 0 \
    >"$TMP/cmdline.badtoken"
rc=0; "$AGENT" --cmdline "$TMP/cmdline.badtoken" 2>/dev/null || rc=$?
[ "$rc" -eq 2 ] || fail "bad token: exit $rc"
echo "ok: usage errors"

PORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
ENDPOINT=tcp://127.0.0.1:$PORT

printf 'measured file\n' >"$TMP/measured.conf"
printf 'another file\n' >"$TMP/other.bin"
head -c 262144 /dev/urandom >"$TMP/disk.img"
# The expected command line is this machine's: the agent runs here too.
cp /proc/cmdline "$TMP/cmdline.expected"

"$SERVE" --endpoint "$ENDPOINT" --token tok-agent-1:hostA --token tok-forge-2:forger \
    --file "$TMP/measured.conf" --file "$TMP/other.bin" \
    --range "$TMP/disk.img:65536:4096" --cmdline-expected "$TMP/cmdline.expected" \
    --modules --ima --mean-ms 200 --deadline-ms 1500 --min-items 2 --untrusted \
    --hook 'echo "$WARDEN_HOST $WARDEN_OUTCOME $WARDEN_SEQ $WARDEN_FAILED" >>'"$TMP/hook.log" \
    >"$TMP/serve.out" 2>"$TMP/serve.err" &
SERVE_PID=$!
wait_for 10 'any(e["event"] == "ready" for e in ev)' || fail "attest_serve did not start"
KEY=$("$PY" -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["server_key"])' \
    "$TMP/serve.out")

# The agent takes its settings from a kernel command line, as in a PXE boot.
printf 'quiet warden.server=%s warden.server_key=%s warden.token=tok-agent-1 ro\n' \
    "$ENDPOINT" "$KEY" >"$TMP/cmdline.boot"
"$AGENT" --cmdline "$TMP/cmdline.boot" --host hostA 2>"$TMP/agent.err" &
AGENT_PID=$!

# 1. Challenges pass, with varying subsets.
wait_for 20 'sum(1 for e in ev if e["event"] == "outcome" and e["host"] == "hostA" and e["outcome"] == "pass") >= 5' ||
    fail "no five passing challenges"
"$PY" - "$TMP/serve.out" <<'EOF' || fail "subsets do not vary"
import json, sys
subsets = {tuple(i["item"] for i in e["items"]) for e in map(json.loads, open(sys.argv[1]))
           if e["event"] == "outcome"}
sys.exit(0 if len(subsets) >= 2 else 1)
EOF
echo "ok: challenges pass"

# 2. A used token is refused: a second agent exits 1.
rc=0
timeout 20 "$AGENT" --server "$ENDPOINT" --server-key "$KEY" --token tok-agent-1 2>"$TMP/agent2.err" || rc=$?
[ "$rc" -eq 1 ] || fail "second agent with a used token exited $rc"
grep -q ATTEST_ERR_AGENT_TOKEN_REFUSED "$TMP/agent2.err" || fail "no token refusal reason"
echo "ok: a used boot token is refused"

# 3. Change a measured file: the next challenge that covers it fails.
LAST=$("$PY" -c '
import json, sys
print(max([e["seq"] for e in map(json.loads, open(sys.argv[1])) if e.get("host") == "hostA" and "seq" in e] or [0]))' "$TMP/serve.out")
printf 'tampered\n' >"$TMP/measured.conf"
wait_for 30 'any(e["event"] == "outcome" and e["host"] == "hostA" and e["seq"] > '"$LAST"' + 1 and any(i["item"].endswith("measured.conf") for i in e["items"]) for e in ev)' ||
    fail "no challenge covered the changed file"
"$PY" - "$TMP/serve.out" "$LAST" <<'EOF' || fail "the changed file did not fail its challenge"
import json, sys
last = int(sys.argv[2])
for e in map(json.loads, open(sys.argv[1])):
    if e["event"] == "outcome" and e["host"] == "hostA" and e["seq"] > last + 1:
        items = {i["item"]: i for i in e["items"]}
        key = [k for k in items if k.endswith("measured.conf")]
        if key:
            ok = e["outcome"] == "fail" and items[key[0]]["result"] == "fail"
            print("changed file:", e["outcome"], items[key[0]]["why"])
            sys.exit(0 if ok else 1)
sys.exit(1)
EOF
for i in $(seq 50); do grep -q '^hostA fail ' "$TMP/hook.log" 2>/dev/null && break; sleep 0.1; done
grep -q '^hostA fail .*measured.conf' "$TMP/hook.log" || fail "the hook did not run for the failure"
echo "ok: a changed file fails, the hook ran"

# 4. Replayed and forged responses are rejected.
"$PY" "$FORGE" "$ENDPOINT" "$KEY" tok-forge-2 || fail "agent_forge.py"
wait_for 5 'all(any(e["event"] == "reject" and e["host"] == "forger" and e["reason"] == r for e in ev) for r in ("ATTEST_ERR_AGENT_NONCE", "WD_ERR_BAD_SIGNATURE", "ATTEST_ERR_AGENT_SESSION_KEY"))' ||
    fail "the server did not report the rejections"
echo "ok: replayed and forged responses are rejected"

# 5. Kill the agent: the open or next challenge is missed, the hook runs.
kill -9 "$AGENT_PID"
wait "$AGENT_PID" 2>/dev/null || true
AGENT_PID=
wait_for 20 'any(e["event"] == "outcome" and e["host"] == "hostA" and e["outcome"] == "missed" for e in ev)' ||
    fail "no missed outcome after the agent died"
for i in $(seq 50); do grep -q '^hostA missed ' "$TMP/hook.log" 2>/dev/null && break; sleep 0.1; done
grep -q '^hostA missed ' "$TMP/hook.log" || fail "the hook did not run for the missed challenge"
echo "ok: a dead agent misses its challenge, the hook ran"

# 6. On SIGTERM the server reports the host untrusted (--untrusted), and its
#    status serializes as canonical msgpack.
kill -TERM "$SERVE_PID"
wait "$SERVE_PID" || fail "attest_serve exited $?"
SERVE_PID=
grep -q '"event":"status","host":"hostA","state":"untrusted"' "$TMP/serve.out" ||
    fail "hostA is not untrusted"
grep -q '"event":"status_msgpack",.*"canonical":true' "$TMP/serve.out" ||
    fail "status is not canonical msgpack"
echo "ok: host marked untrusted; status is canonical"
echo "PASS"
