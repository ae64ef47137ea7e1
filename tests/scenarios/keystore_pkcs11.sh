#!/usr/bin/env bash
# Scenario: a node whose identity key lives in a PKCS#11 token (Debian's
# SoftHSM2 in a temporary token directory), on real processes:
#   softhsm2-util --init-token -> wardenctl init --backend pkcs11 (key pair
#   generated in the token, non-extractable) -> wardend -> `wardenctl status`
#   signed through the token and showing pkcs11 -> the documented Python
#   client verifies it -> host-attestation evidence signed by the token
#   verifies against node.cert -> kill -9 keys: restarted, signing again ->
#   start-up refusals with their reasons and no control socket (wrong PIN,
#   missing module, token, key, loose PIN file), never a fallback to a key
#   file that sits in the usual place.
# Usage: keystore_pkcs11.sh WARDEND WARDENCTL WARDEN_AGENT
set -euo pipefail
WARDEND=$1
WARDENCTL=$2
AGENT=$3
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=mesh_lib.sh
source "$HERE/mesh_lib.sh" # PY, json, mesh_wait
MODULE=/usr/lib/softhsm/libsofthsm2.so
PIN=31415926

tmp=$(mktemp -d /tmp/warden-pkcs11-XXXXXX)
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
    [ -f "$tmp/wardend.log" ] && tail -n 40 "$tmp/wardend.log" | sed 's/^/  log: /' >&2
    exit 1
}
ctl() { "$WARDENCTL" --state "$state" "$@"; }
verified_with_keys_restarts() { # verified_with_keys_restarts N
    ctl status --json >"$tmp/status.json" &&
        [ "$(json "$tmp/status.json" "j['signature']['verified']")" = True ] &&
        [ "$(json "$tmp/status.json" "[p['restarts'] for p in j['processes'] if p['name']=='keys'][0]")" = "$1" ]
}

[ -r "$MODULE" ] && command -v softhsm2-util >/dev/null ||
    fail "SoftHSM2 is not installed: run scripts/install-deps"

step "a SoftHSM2 token in a temporary directory"
mkdir -m 0700 "$tmp/tokens"
printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' \
    "$tmp/tokens" >"$tmp/softhsm2.conf"
export SOFTHSM2_CONF=$tmp/softhsm2.conf
softhsm2-util --init-token --free --label warden-scenario --so-pin 27182818 --pin "$PIN" \
    >/dev/null
(umask 077; printf '%s\n' "$PIN" >"$tmp/pin"; printf '99999999\n' >"$tmp/wrong-pin")

step "wardenctl init --backend pkcs11 generates a non-extractable key pair in the token"
ctl init --name p11-node --backend pkcs11 --module "$MODULE" --token warden-scenario \
    --key-label warden-identity --pin-file "$tmp/pin" --json >"$tmp/init.json" ||
    fail "init with pkcs11"
[ "$(json "$tmp/init.json" "j['key_protection']")" = pkcs11-software ] || fail "init: key protection"
[ ! -e "$state/keys/identity.key" ] || fail "init wrote a key file"
ctl keys show --json >"$tmp/keys.json"
[ "$(json "$tmp/keys.json" "j['key_protection']")" = pkcs11-software ] || fail "node.cert: key protection"
[ "$(json "$tmp/keys.json" "j['id']")" = "$(json "$tmp/init.json" "j['id']")" ] || fail "keys show: id"
grep -q 'backend = "pkcs11"' "$state/warden.conf" && grep -q 'token = "warden-scenario"' \
    "$state/warden.conf" || fail "config lacks the pkcs11 settings"
grep -q "$PIN" "$state/warden.conf" && fail "the PIN reached the configuration"
pkcs11-tool --module "$MODULE" --token-label warden-scenario --pin "$PIN" -O 2>/dev/null \
    >"$tmp/objects"
grep -A5 "^Private Key Object; EC_EDWARDS" "$tmp/objects" |
    grep -q "Access: *sensitive, always sensitive, never extractable, local" ||
    fail "private key is not sensitive and never extractable: $(cat "$tmp/objects")"
# The public key in the token is the node's identity.
grep -q "EC_POINT: *0420$(json "$tmp/keys.json" "j['id']")" "$tmp/objects" ||
    fail "token public key is not the certificate's"
set +e
ctl init --state "$tmp/second" --backend pkcs11 --module "$MODULE" --token warden-scenario \
    --key-label warden-identity --pin-file "$tmp/pin" >/dev/null 2>"$tmp/err"; rc=$?
set -e
[ $rc = 2 ] && grep -q "WD_ERR_EXISTS" "$tmp/err" || fail "second key with one label: rc $rc"
"$WARDEND" -c "$state/warden.conf" --check-config >"$tmp/check" ||
    fail "check-config: $(cat "$tmp/check")"
grep -q "keystore pkcs11" "$tmp/check" || fail "check-config output"

step "wardend signs through the token: status verified, showing pkcs11"
PORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
ENDPOINT=tcp://127.0.0.1:$PORT
mkdir -p "$tmp/host" "$state/conf.d"
printf 'measured file\n' >"$tmp/host/measured.conf"
cat >"$tmp/policy.json" <<EOF
{"meta": {"version": 1, "generator": 0}, "release": 0,
 "digests": {"$tmp/host/measured.conf": ["$(sha256sum "$tmp/host/measured.conf" | cut -d' ' -f1)"]},
 "excludes": [], "keyrings": {},
 "ima": {"ignored_keyrings": [], "log_hash_alg": "sha256", "dm_policy": null},
 "ima-buf": {}, "verification-keys": ""}
EOF
printf 'file %s\n' "$tmp/host/measured.conf" >"$tmp/items"
cat >"$state/conf.d/50-attest.conf" <<EOF
attest
    listen = "$ENDPOINT"
    items = "$tmp/items"
    policy = "$tmp/policy.json"
    interval = "300ms"
    deadline = "1500ms"
EOF
"$WARDEND" -c "$state/warden.conf" -l debug 2>"$tmp/wardend.log" &
daemon_pid=$!
mesh_wait 10 verified_with_keys_restarts 0 || fail "no verified status"
[ "$(json "$tmp/status.json" "j['keystore']['backend'], j['keystore']['key_protection'], j['keystore']['healthy'], j['keystore']['tamper']")" = \
    "pkcs11 pkcs11-software True not-supported" ] || fail "keystore status: $(cat "$tmp/status.json")"
ctl status | grep -q "^keystore    pkcs11 (pkcs11-software), healthy" || fail "human status"
grep -q "keystore pkcs11 open" "$tmp/wardend.log" || fail "keys did not log the open"

step "the Python client printed in docs/PROTOCOL.md verifies the same status"
"$PY" - "$HERE/../../docs/PROTOCOL.md" "$tmp/doc_client.py" <<'PY'
import sys
doc = open(sys.argv[1]).read()
start = doc.index('```python\n#!/usr/bin/python3\n"""Ask a wardend')
end = doc.index("```", start + 10)
open(sys.argv[2], "w").write(doc[start + 10:end])
PY
"$PY" "$tmp/doc_client.py" "$state/control.sock" >"$tmp/doc_client.out" ||
    fail "documented client: $(cat "$tmp/doc_client.out")"
grep -q "^signed$" "$tmp/doc_client.out" || fail "documented client did not see a signed report"

step "host-attestation evidence is signed by the token and verifies against node.cert"
ctl attest token --host hostP --json >"$tmp/token.json"
printf 'quiet %s ro\n' "$(json "$tmp/token.json" "j['cmdline']")" >"$tmp/cmdline.boot"
"$AGENT" --cmdline "$tmp/cmdline.boot" --host hostP 2>"$tmp/agent.err" &
agent_pid=$!
evidence_ok() {
    ctl attest evidence --limit 100 --json >"$tmp/ev.json" &&
        [ "$(json "$tmp/ev.json" "j['unverified'] == 0 and sum(r['outcome'] == 'pass' and r['key_protection'] == 'pkcs11-software' for r in j['records']) >= 2")" = True ]
}
mesh_wait 20 evidence_ok || fail "no verified pass evidence with key protection pkcs11-software"
kill -TERM "$agent_pid" 2>/dev/null || true
wait "$agent_pid" 2>/dev/null || true
agent_pid=

step "kill -9 the keys process: restarted, it logs in again and signs"
keys_pid=$(json "$tmp/status.json" "[p['pid'] for p in j['processes'] if p['name']=='keys'][0]")
kill -KILL "$keys_pid"
mesh_wait 10 verified_with_keys_restarts 1 || fail "keys not back with verified signatures"
[ "$(json "$tmp/status.json" "j['keystore']['backend']")" = pkcs11 ] || fail "backend after restart"

step "SIGTERM stops the node"
kill -TERM "$daemon_pid"
wait "$daemon_pid" || fail "wardend exit status $?"
daemon_pid=
[ ! -e "$state/control.sock" ] || fail "control socket left behind"

step "start-up refusals name the reason; no fallback to a key file"
# A valid key file where the file backend would look must change nothing.
"$WARDENCTL" init --state "$tmp/filenode" --name f >/dev/null
cp "$tmp/filenode/keys/identity.key" "$state/keys/identity.key"
refused() { # refused REASON CONF-LINES...: wardend must not start, and say REASON
    local reason=$1; shift
    printf '%s\n' keystore "$@" >"$state/conf.d/60-keystore.conf"
    set +e
    timeout 10 "$WARDEND" -c "$state/warden.conf" 2>"$tmp/err"; rc=$?
    set -e
    [ $rc != 0 ] && [ $rc != 124 ] || fail "started or hung (rc $rc) with: $*"
    grep -q -- "$reason" "$tmp/err" || fail "reason '$reason' missing: $(cat "$tmp/err")"
    [ ! -e "$state/control.sock" ] || fail "control socket exists after: $*"
    sed -n 1p "$tmp/err" | sed "s/^/    refused: /"
    rm "$state/conf.d/60-keystore.conf"
}
refused "PKCS#11 PIN is incorrect, locked or missing (WD_ERR_PKCS11_PIN" \
    "    pin_file = \"$tmp/wrong-pin\""
refused "PKCS#11 module cannot be loaded (WD_ERR_PKCS11_MODULE; module /nonexistent/lib.so" \
    '    module = "/nonexistent/lib.so"'
refused "no PKCS#11 token with that label (WD_ERR_PKCS11_TOKEN; .*token 'no-such-token'" \
    '    token = "no-such-token"'
refused "no single Ed25519 key pair with that label on the token (WD_ERR_PKCS11_KEY" \
    '    key_label = "no-such-key"'
chmod 0644 "$tmp/pin"
refused "key file is readable or writable by group or others (WD_ERR_KEY_PERMISSIONS" \
    "    pin_file = \"$tmp/pin\""
chmod 0600 "$tmp/pin"
refused "needs exactly one of keystore/pin_file and keystore/pin_credential" \
    '    pin_credential = "warden-pin"'


step "after the refusals the node starts again"
"$WARDEND" -c "$state/warden.conf" 2>"$tmp/wardend.log" &
daemon_pid=$!
mesh_wait 10 verified_with_keys_restarts 0 || fail "no verified status after the refusals"
kill -TERM "$daemon_pid"
wait "$daemon_pid" || fail "wardend exit status $?"
daemon_pid=

echo "keystore_pkcs11: all steps passed"
