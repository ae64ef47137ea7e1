#!/usr/bin/env bash
# Scenario: one node's whole life on real processes and files.
#   wardenctl init -> wardend (with a stand-in service manager) -> status
#   signed by the keys process -> kill -9 keys, kill -9 engine: both
#   restarted and signing works again -> SIGHUP reload -> SIGTERM: clean
#   exit, nothing left running -> start-up refusals with their reasons.
# Usage: node_lifecycle.sh WARDEND WARDENCTL
set -euo pipefail
WARDEND=$1
WARDENCTL=$2
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=mesh_lib.sh
source "$HERE/mesh_lib.sh" # PY, json, mesh_wait

tmp=$(mktemp -d /tmp/warden-scenario-XXXXXX)
state=$tmp/node
daemon_pid=
listener_pid=
cleanup() {
    [ -n "$daemon_pid" ] && kill -KILL "$daemon_pid" 2>/dev/null || true
    [ -n "$listener_pid" ] && kill -KILL "$listener_pid" 2>/dev/null || true
    pkill -KILL -f "wardend --child" -P "${daemon_pid:-0}" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT

step() { echo "--- $*"; }
fail() {
    echo "FAIL: $*" >&2
    [ -f "$tmp/wardend.log" ] && sed 's/^/  log: /' "$tmp/wardend.log" >&2
    exit 1
}
status_json() { "$WARDENCTL" --state "$state" status --json > "$tmp/status.json"; }
child_pid() { json "$tmp/status.json" "[p['pid'] for p in j['processes'] if p['name']=='$1'][0]"; }
verified_with() { # verified_with ROLE RESTARTS
    status_json &&
    [ "$(json "$tmp/status.json" "j['signature']['verified']")" = True ] &&
    [ "$(json "$tmp/status.json" "[p['restarts'] for p in j['processes'] if p['name']=='$1'][0]")" = "$2" ] &&
    [ "$(json "$tmp/status.json" "all(p['state']=='running' for p in j['processes'])")" = True ]
}

step "wardenctl init creates keys, certificate and configuration"
"$WARDENCTL" init --state "$state" --name scenario-a > "$tmp/init.out"
for f in keys/identity.key keys/vrf.key keys/curve.key; do
    [ "$(stat -c %a "$state/$f")" = 600 ] || fail "$f is not mode 0600"
done
[ "$(stat -c %a "$state/keys")" = 700 ] || fail "keys/ is not mode 0700"
grep -q 'name = "scenario-a"' "$state/warden.conf" || fail "config lacks the node name"
set +e
"$WARDENCTL" init --state "$state" > /dev/null 2> "$tmp/err"; rc=$?
set -e
[ $rc = 2 ] && grep -q "already holds a node" "$tmp/err" || fail "second init: rc $rc"
"$WARDENCTL" --state "$state" keys show --json > "$tmp/keys.json"
[ "$(json "$tmp/keys.json" "j['name']")" = scenario-a ] || fail "keys show"

step "wardend --check-config accepts the node and names what is wrong"
"$WARDEND" -c "$state/warden.conf" --check-config > /dev/null || fail "check-config"
mkdir -p "$state/conf.d"
printf 'node\n    nmae = "x"\n' > "$state/conf.d/50-typo.conf"
set +e
"$WARDEND" -c "$state/warden.conf" --check-config 2> "$tmp/err"; rc=$?
set -e
[ $rc = 2 ] && grep -q "50-typo.conf" "$tmp/err" && grep -q "node/nmae" "$tmp/err" \
    || fail "unknown key: rc $rc, $(cat "$tmp/err")"
rm "$state/conf.d/50-typo.conf"
printf 'node\n    name = "someone-else"\n' > "$state/conf.d/50-name.conf"
set +e
"$WARDEND" -c "$state/warden.conf" --check-config 2> "$tmp/err"; rc=$?
set -e
[ $rc = 2 ] && grep -q "is for node 'scenario-a', node/name says 'someone-else'" "$tmp/err" \
    || fail "name mismatch: rc $rc, $(cat "$tmp/err")"
rm "$state/conf.d/50-name.conf"

step "wardend starts, tells the service manager, and answers a signed status"
"$PY" "$HERE/notify_listener.py" "$tmp/notify.sock" "$tmp/notify.log" &
listener_pid=$!
mesh_wait 5 grep -q LISTENING "$tmp/notify.log" || fail "notify listener did not start"
NOTIFY_SOCKET=$tmp/notify.sock WATCHDOG_USEC=400000 \
    "$WARDEND" -c "$state/warden.conf" -l debug 2> "$tmp/wardend.log" &
daemon_pid=$!
mesh_wait 10 verified_with keys 0 || fail "no verified status"
mesh_wait 5 grep -q "READY=1" "$tmp/notify.log" || fail "no READY=1"
mesh_wait 5 grep -q "WATCHDOG=1" "$tmp/notify.log" || fail "no WATCHDOG=1"
[ "$(stat -c %a "$state/control.sock")" = 660 ] || fail "control socket mode"
"$WARDENCTL" --state "$state" status | grep -q "signature   verified" || fail "human status"

step "the Python client printed in docs/PROTOCOL.md verifies the same status"
"$PY" - "$HERE/../../docs/PROTOCOL.md" "$tmp/doc_client.py" <<'PY'
import sys
doc = open(sys.argv[1]).read()
start = doc.index('```python\n#!/usr/bin/python3\n"""Ask a wardend')
end = doc.index("```", start + 10)
open(sys.argv[2], "w").write(doc[start + 10:end])
PY
"$PY" "$tmp/doc_client.py" "$state/control.sock" > "$tmp/doc_client.out" \
    || fail "documented client: $(cat "$tmp/doc_client.out")"
grep -q "^signed$" "$tmp/doc_client.out" || fail "documented client did not see a signed report"

step "the engine measured itself; its log replays to the registers in the signed status"
# replay FILE: prints "entries sha256-register names..." from a binary IMA list
# (ima-ng, PCR 10), computed here independently of Warden's code.
replay() {
    "$PY" - "$1" <<'PY'
import hashlib, struct, sys
data, pos, reg, names = open(sys.argv[1], "rb").read(), 0, bytes(32), []
while pos < len(data):
    pcr, = struct.unpack_from("<I", data, pos); pos += 4 + 20
    n, = struct.unpack_from("<I", data, pos); pos += 4 + n
    n, = struct.unpack_from("<I", data, pos); tdata = data[pos + 4:pos + 4 + n]; pos += 4 + n
    dlen, = struct.unpack_from("<I", tdata, 0)
    nlen, = struct.unpack_from("<I", tdata, 4 + dlen)
    names.append(tdata[8 + dlen:8 + dlen + nlen - 1].decode())
    assert pcr == 10
    reg = hashlib.sha256(reg + hashlib.sha256(tdata).digest()).digest()
print(len(names), reg.hex(), " ".join(names))
PY
}
measured_matches() { # measured_matches: the signed status agrees with the file
    status_json &&
    read -r entries register names < <(replay "$state/measurements.bin") &&
    [ "$(json "$tmp/status.json" "j['measurements']['entries']")" = "$entries" ] &&
    [ "$(json "$tmp/status.json" "j['measurements']['sha256']")" = "$register" ]
}
mesh_wait 5 measured_matches || fail "status registers do not match measurements.bin"
read -r entries register names < <(replay "$state/measurements.bin")
[ "$names" = "$(readlink -f "$WARDEND") warden:config $state/node.cert warden:keystore:file" ] \
    || fail "start-up measurements: $entries entries: $names"
cp "$state/measurements.bin" "$tmp/measured-at-start"

step "a control client that never reads its replies is cut off; the engine keeps serving"
sent=$("$PY" "$HERE/control_flood.py" "$state/control.sock")
[ "$sent" -lt 5000 ] || fail "the engine never hung up on a client that does not read"
mesh_wait 5 grep -q "does not read its replies; disconnected" "$tmp/wardend.log" \
    || fail "disconnect not logged"
verified_with keys 0 || fail "engine unresponsive after the flood"

step "kill -9 the keys process: restarted, and signing works again"
keys_pid=$(child_pid keys)
kill -KILL "$keys_pid"
mesh_wait 10 verified_with keys 1 || fail "keys not back with verified signatures"
[ "$(child_pid keys)" != "$keys_pid" ] || fail "keys pid did not change"
grep -q "keys (pid $keys_pid) killed by signal 9" "$tmp/wardend.log" || fail "kill not logged"

step "kill -9 the engine: restarted, control socket back"
engine_pid=$(child_pid engine)
kill -KILL "$engine_pid"
mesh_wait 10 verified_with engine 1 || fail "engine not back"

step "SIGHUP reloads by restarting both children with the new configuration"
sed -i 's/# level = "info"/level = "warning"/' "$state/warden.conf"
kill -HUP "$daemon_pid"
mesh_wait 10 verified_with engine 2 || fail "engine not restarted by SIGHUP"
mesh_wait 10 verified_with keys 2 || fail "keys not restarted by SIGHUP"
mesh_wait 5 measured_matches || fail "status registers do not match measurements.bin after reload"
size=$(stat -c %s "$tmp/measured-at-start")
cmp -n "$size" "$tmp/measured-at-start" "$state/measurements.bin" \
    || fail "the measurement log lost or changed its earlier entries"
read -r entries register names < <(replay "$state/measurements.bin")
starts=$(grep -o "warden:config" <<< "$names" | wc -l)
[ "$starts" = 3 ] || fail "3 engine starts (first, after kill -9, SIGHUP) measured $starts times"

step "SIGTERM stops everything within 5 s, cleanly"
status_json
pids="$daemon_pid $(child_pid keys) $(child_pid engine)"
start=$(date +%s%N)
kill -TERM "$daemon_pid"
set +e
timeout 5 tail --pid="$daemon_pid" -f /dev/null; tail_rc=$?
wait "$daemon_pid"; rc=$?
set -e
elapsed=$(( ($(date +%s%N) - start) / 1000000 ))
[ $tail_rc = 0 ] || fail "wardend still running 5 s after SIGTERM"
[ $rc = 0 ] || fail "wardend exit status $rc"
daemon_pid=
for p in $pids; do
    [ -e "/proc/$p" ] && [ "$(awk '{print $3}' "/proc/$p/stat")" != Z ] && fail "pid $p left running"
done
[ ! -e "$state/control.sock" ] || fail "control socket left behind"
mesh_wait 5 grep -q "STOPPING=1" "$tmp/notify.log" || fail "no STOPPING=1"
echo "    stopped in $elapsed ms"

step "the control socket admits root, refuses other users, and admits control/group"
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null && getent group nogroup >/dev/null &&
    getent group daemon >/dev/null; then
    # A socket in a directory anyone may enter, so only the credential check
    # stands between uid 65534 and the daemon.
    chmod 0711 "$tmp"
    mkdir -m 0777 "$tmp/pub"
    as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
    run_with_socket() { # run_with_socket CONF-LINES...
        printf '%s\n' "$@" > "$state/conf.d/60-control.conf"
        "$WARDEND" -c "$state/warden.conf" -l debug 2> "$tmp/wardend.log" &
        daemon_pid=$!
        mesh_wait 10 "$WARDENCTL" --socket "$tmp/pub/control.sock" status || fail "no status"
        chmod 0666 "$tmp/pub/control.sock"
    }
    stop_daemon() { kill -TERM "$daemon_pid"; wait "$daemon_pid" || fail "exit status $?"; daemon_pid=; }

    run_with_socket control "    socket = \"$tmp/pub/control.sock\""
    set +e
    as_nobody "$WARDENCTL" --socket "$tmp/pub/control.sock" status > /dev/null 2> "$tmp/err"; rc=$?
    set -e
    [ $rc = 1 ] && grep -q "wardend closed the connection" "$tmp/err" \
        || fail "uid 65534 was served (rc $rc)"
    mesh_wait 5 grep -q "control socket: refused pid [0-9]* (uid 65534, gid 65534)" "$tmp/wardend.log" \
        || fail "refusal not logged"
    stop_daemon

    run_with_socket control "    socket = \"$tmp/pub/control.sock\"" "    group = \"nogroup\""
    [ "$(stat -c %G "$tmp/pub/control.sock")" = nogroup ] || fail "socket group not set"
    as_nobody "$WARDENCTL" --socket "$tmp/pub/control.sock" status > /dev/null \
        || fail "control/group member refused"
    stop_daemon

    # membership through a supplementary group counts too (SO_PEERGROUPS)
    run_with_socket control "    socket = \"$tmp/pub/control.sock\"" "    group = \"daemon\""
    setpriv --reuid=65534 --regid=65534 --groups="$(getent group daemon | cut -d: -f3)" \
        "$WARDENCTL" --socket "$tmp/pub/control.sock" status > /dev/null \
        || fail "supplementary control/group member refused"
    stop_daemon
    rm "$state/conf.d/60-control.conf"
else
    echo "    skipped: needs root, setpriv and group nogroup"
fi

# start_refused REASON: wardend must exit 1 within 10 s, saying REASON, and
# never open its control socket.
start_refused() {
    local rc
    set +e
    timeout 10 "$WARDEND" -c "$state/warden.conf" 2> "$tmp/err"
    rc=$?
    set -e
    [ $rc = 1 ] && grep -q -- "$1" "$tmp/err" || fail "wanted '$1': rc $rc, $(cat "$tmp/err")"
    [ ! -e "$state/control.sock" ] || fail "the engine started despite: $1"
}

step "start-up refuses a key file others can read, and says why"
chmod 0644 "$state/keys/identity.key"
start_refused "key file is readable or writable by group or others"
chmod 0600 "$state/keys/identity.key"

step "start-up refuses a certificate that claims a key protection the keystore lacks"
cp "$state/node.cert" "$tmp/node.cert.orig"
# node.cert re-sealed by the node's own key (PROTOCOL.md "Signed envelope")
# with key_protection "pkcs11": well formed and signed, but the file key is
# software
"$PY" - "$state/node.cert" "$state/keys/identity.key" << 'PYEOF'
import hashlib, sys
import msgpack, nacl.signing
def pack(m):
    return msgpack.packb(dict(sorted(m.items())), use_bin_type=True)
env = msgpack.unpackb(open(sys.argv[1], "rb").read(), raw=False)
body = msgpack.unpackb(env["body"], raw=False)
body["key_protection"] = "pkcs11"
env["body"] = pack(body)
seed = msgpack.unpackb(open(sys.argv[2], "rb").read(), raw=False)["seed"]
sk = nacl.signing.SigningKey(seed)
digest = hashlib.sha256(b"warden/1\x00" + env["type"].encode() + b"\x00" + env["chain"]
                        + env["body"]).digest()
env["sig"] = sk.sign(digest).signature
open(sys.argv[1], "wb").write(pack(env))
PYEOF
"$WARDENCTL" --state "$state" keys show --json > "$tmp/forged.json" ||
    fail "the re-sealed certificate does not verify"
[ "$(json "$tmp/forged.json" "j['key_protection']")" = pkcs11 ] || fail "the certificate was not changed"
start_refused "node.cert claims key protection pkcs11, but keystore file provides software"
cp "$tmp/node.cert.orig" "$state/node.cert"

step "start-up refuses a genesis file that does not verify, and says why"
"$WARDENCTL" genesis create --name lifecycle --node "$state/node.cert" --out "$tmp/genesis" \
    > /dev/null
head -c -1 "$tmp/genesis" > "$state/genesis"
start_refused "genesis $state/genesis: input ends inside a value (WD_ERR_TRUNCATED)"
rm "$state/genesis"

step "start-up refuses a keystore backend that is not built in (no fallback)"
sed -i 's/# backend = "file"/backend = "nosuch"/' "$state/warden.conf"
set +e
"$WARDEND" -c "$state/warden.conf" 2> "$tmp/err"; rc=$?
set -e
[ $rc = 2 ] && grep -q "'nosuch' is not built into this wardend" "$tmp/err" \
    || fail "backend: rc $rc, $(cat "$tmp/err")"

step "wardenctl status with no daemon says so"
set +e
"$WARDENCTL" --state "$state" status 2> "$tmp/err"; rc=$?
set -e
[ $rc = 1 ] && grep -q "is it running" "$tmp/err" || fail "no-daemon status: rc $rc"

echo "node_lifecycle: all steps passed"
