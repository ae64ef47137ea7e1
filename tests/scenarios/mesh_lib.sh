# mesh_lib.sh: shared helpers of the mesh scenarios (mesh_*.sh) and of
# bench_gossip's runs: a cluster of real wardend processes on loopback made
# from `wardenctl init` nodes and one `wardenctl genesis create`, each node
# in its own process group so `kill -9 -- -PGID` kills all of its wardend
# processes at once. The single-node scenarios (node_lifecycle.sh,
# pcr_signer.sh, keystore_pkcs11.sh, wardend_agent.sh) use only its json and
# mesh_wait; cluster_lib.sh builds on it for the cluster scenarios.
# Source it after setting WARDEND, WARDENCTL and tmp (a fresh directory);
# call mesh_cleanup from the caller's EXIT trap.

PY=/usr/bin/python3
MESH_PIDS=()  # index -> process group of the running wardend, or empty
MESH_PORTS=() # index -> TCP port of its mesh/listen
MESH_COUNT=0  # how many nodes mesh_make made (n0..n(MESH_COUNT-1))

# json FILE EXPR: evaluates a Python expression over the parsed JSON `j`.
json() { "$PY" -c "import json,sys; j=json.load(open(sys.argv[1])); print($2)" "$1"; }

# mesh_fail MESSAGE: reports, shows the tail of every node's log, exits 1.
mesh_fail() {
    echo "FAIL: $*" >&2
    local d
    for d in "$tmp"/n*; do
        [ -S "$d/control.sock" ] || continue
        "$WARDENCTL" --state "$d" peers --json 2> /dev/null | "$PY" -c "import json,sys
j=json.load(sys.stdin)
print('  view of $(basename "$d"):', ' '.join('%s=%s/%s' % (p['name'], p['state'], p['link'])
      for p in j['peers']))" >&2 || true
    done
    for log in "$tmp"/n*/wardend.log; do
        [ -f "$log" ] || continue
        echo "--- $log" >&2
        tail -n 15 "$log" >&2
    done
    exit 1
}

# mesh_free_port_base COUNT: a base port with COUNT free ports above it.
mesh_free_port_base() {
    "$PY" - "$1" <<'EOF'
import random, socket, sys
n = int(sys.argv[1])
for _ in range(200):
    base = random.randrange(20000, 32000 - n)  # below the ephemeral ports (32768-)
    socks = []
    try:
        for p in range(base, base + n):
            s = socket.socket()
            s.bind(("127.0.0.1", p))
            socks.append(s)
    except OSError:
        continue
    finally:
        for s in socks:
            s.close()
    print(base)
    sys.exit(0)
sys.exit(1)
EOF
}

# mesh_make COUNT: creates nodes n0..n(COUNT-1) in $tmp (`wardenctl init`),
# one genesis for all (`wardenctl genesis create`, copied to each state
# directory), and each node's conf.d/50-mesh.conf: its listen endpoint, a
# mesh/peers list naming every node (host from mesh_host, ports from a free
# range), and MESH_PROBE, MESH_PROBE_TIMEOUT, MESH_HEARTBEAT, MESH_KEEP.
mesh_make() {
    local count=$1 i base
    base=$(mesh_free_port_base "$count") || mesh_fail "no free ports"
    MESH_COUNT=$count
    for ((i = 0; i < count; i++)); do
        MESH_PORTS[i]=$((base + i))
        "$WARDENCTL" init --state "$tmp/n$i" --name "n$i" > /dev/null
    done
    mesh_genesis mesh-test
    local peers=""
    for ((i = 0; i < count; i++)); do
        peers+="n$i=tcp://$(mesh_host "$i"):${MESH_PORTS[i]} "
    done
    for ((i = 0; i < count; i++)); do
        mkdir -p "$tmp/n$i/conf.d"
        cat > "$tmp/n$i/conf.d/50-mesh.conf" <<EOF
mesh
    listen = "tcp://$(mesh_host "$i"):${MESH_PORTS[i]}"
    peers = "${peers% }"
    probe = "${MESH_PROBE:-500ms}"
    probe_timeout = "${MESH_PROBE_TIMEOUT:-200ms}"
    heartbeat = "${MESH_HEARTBEAT:-1s}"
    records_keep = "${MESH_KEEP:-1024}"
EOF
    done
}

# mesh_genesis NAME [ARGS...]: (re)creates $tmp/genesis, named NAME, from
# the certificates of the MESH_COUNT nodes mesh_make made, with ARGS (e.g.
# `--param epoch_blocks=8`), and copies it into each node's state directory.
mesh_genesis() {
    local name=$1 i certs=()
    shift
    for ((i = 0; i < MESH_COUNT; i++)); do certs+=(--node "$tmp/n$i/node.cert"); done
    "$WARDENCTL" genesis create --name "$name" "${certs[@]}" "$@" --force \
        --out "$tmp/genesis" > /dev/null
    for ((i = 0; i < MESH_COUNT; i++)); do cp "$tmp/genesis" "$tmp/n$i/genesis"; done
}

# mesh_chain_id: the chain id of $tmp/genesis (hex).
mesh_chain_id() {
    "$WARDENCTL" genesis show "$tmp/genesis" --json |
        "$PY" -c 'import json,sys; print(json.load(sys.stdin)["chain_id"])'
}

# mesh_host INDEX: the address node INDEX listens on: 127.0.0.1, or what
# the function named by MESH_HOST_FN prints.
mesh_host() {
    if [ -n "${MESH_HOST_FN:-}" ]; then "$MESH_HOST_FN" "$1"; else echo 127.0.0.1; fi
}

# mesh_endpoint INDEX: node INDEX's mesh/listen endpoint.
mesh_endpoint() { echo "tcp://$(mesh_host "$1"):${MESH_PORTS[$1]}"; }

# mesh_key INDEX FIELD: a field of node INDEX's `wardenctl keys show --json`
# (sign_pk, curve_pk, ...); reads the state directory, so the node need not run.
mesh_key() {
    mesh_ctl "$1" keys show --json | "$PY" -c "import json,sys; print(json.load(sys.stdin)['$2'])"
}

# mesh_target INDEX: ENDPOINT=CURVE_PK of node INDEX, how mesh_peer.py and
# byzantine_peer.py name a node to connect to.
mesh_target() {
    local pk
    pk=$(mesh_key "$1" curve_pk) || return 1
    echo "$(mesh_endpoint "$1")=$pk"
}

# mesh_start INDEX [PREFIX...]: starts node INDEX in its own process group
# (PREFIX, e.g. `ip netns exec NS`, runs before wardend).
mesh_start() {
    local i=$1
    shift
    setsid "$@" "$WARDEND" -c "$tmp/n$i/warden.conf" -l "${MESH_LOG_LEVEL:-info}" \
        2>> "$tmp/n$i/wardend.log" < /dev/null &
    MESH_PIDS[i]=$!
}

# mesh_wait_up INDEX: waits until node INDEX answers `peers`.
mesh_wait_up() {
    local i=$1 deadline=$((SECONDS + 20))
    until "$WARDENCTL" --state "$tmp/n$i" peers --json > /dev/null 2>&1; do
        [ $SECONDS -lt $deadline ] || mesh_fail "node n$i did not come up"
        kill -0 "${MESH_PIDS[i]}" 2> /dev/null || mesh_fail "node n$i exited"
        sleep 0.1
    done
}

# mesh_kill INDEX: kill -9 of the node's whole process group.
mesh_kill() {
    local i=$1
    [ -n "${MESH_PIDS[i]:-}" ] || return 0
    kill -KILL -- "-${MESH_PIDS[i]}" 2> /dev/null || true
    wait "${MESH_PIDS[i]}" 2> /dev/null || true
    MESH_PIDS[i]=
}

# mesh_cleanup: SIGTERM to every parent (it stops its children), up to 5 s
# for them to end, then kill -9 of whatever is left of each process group.
mesh_cleanup() {
    local i deadline=$((SECONDS + 5))
    for i in "${!MESH_PIDS[@]}"; do
        [ -n "${MESH_PIDS[i]}" ] && kill -TERM "${MESH_PIDS[i]}" 2> /dev/null || true
    done
    for i in "${!MESH_PIDS[@]}"; do
        [ -n "${MESH_PIDS[i]}" ] || continue
        while kill -0 "${MESH_PIDS[i]}" 2> /dev/null && [ $SECONDS -lt $deadline ]; do
            sleep 0.05
        done
        kill -KILL -- "-${MESH_PIDS[i]}" 2> /dev/null || true
        wait "${MESH_PIDS[i]}" 2> /dev/null || true
        MESH_PIDS[i]=
    done
}

# mesh_ctl INDEX ARGS...: wardenctl against node INDEX.
mesh_ctl() {
    local i=$1
    shift
    "$WARDENCTL" --state "$tmp/n$i" "$@"
}

# mesh_has_record INDEX TEXT: node INDEX holds a notice with TEXT.
mesh_has_record() {
    mesh_ctl "$1" mesh records --json > "$tmp/rec.$1.json" 2> /dev/null &&
        [ "$(json "$tmp/rec.$1.json" "any(r['text']=='$2' for r in j)")" = True ]
}

# mesh_sees INDEX STATE NAMES...: node INDEX holds every named node in STATE
# (its view is left in $tmp/peers.INDEX.json).
mesh_sees() {
    local i=$1 state=$2 names
    shift 2
    mesh_ctl "$i" peers --json > "$tmp/peers.$i.json" 2> /dev/null || return 1
    names=$(printf "'%s'," "$@")
    [ "$(json "$tmp/peers.$i.json" \
        "all(p['state']=='$state' for p in j['peers'] if p['name'] in [$names])")" = True ]
}

# mesh_have_all TEXT INDEXES...: every listed node holds a notice with TEXT.
mesh_have_all() {
    local text=$1 i
    shift
    for i in "$@"; do mesh_has_record "$i" "$text" || return 1; done
}

# mesh_wait SECONDS CMD...: retries CMD every 100 ms until it succeeds.
mesh_wait() {
    local deadline=$((SECONDS + $1))
    shift
    until "$@" > /dev/null 2>&1; do
        [ $SECONDS -lt $deadline ] || return 1
        sleep 0.1
    done
}

# mesh_check_logs: fails when a sanitizer reported anything in a node's log,
# or a wardend child died other than by the test's own kill -9.
mesh_check_logs() {
    local log
    for log in "$tmp"/n*/wardend.log; do
        [ -f "$log" ] || continue
        if grep -q -E "Sanitizer|runtime error:" "$log"; then
            grep -E -A20 "Sanitizer|runtime error:" "$log" | head -40 >&2
            mesh_fail "sanitizer report in $log"
        fi
        # The parent's report of a child's death (node_parent.c), not the
        # engine noting that the keys process went first at shutdown.
        local died='\[wardend\] (engine|keys|pxe) \(pid [0-9]+\) (exited|killed)'
        if grep -q -E "$died" "$log"; then
            grep -E "$died" "$log" >&2
            mesh_fail "a wardend child died in $log"
        fi
    done
}

# ---- ledger helpers (ledger_*.sh): read a node's ledger.db read-only ----

# ledger_tip INDEX: node INDEX's ledger height.
ledger_tip() {
    "$PY" - "$tmp/n$1/ledger.db" <<'PYEOF'
import sqlite3, sys
db = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True, timeout=5)
print(db.execute("select coalesce(max(height), 0) from blocks").fetchone()[0])
PYEOF
}

# ledger_tips_at_least H INDEXES...: every listed node's tip is at least H.
ledger_tips_at_least() {
    local h=$1 i
    shift
    for i in "$@"; do [ "$(ledger_tip "$i")" -ge "$h" ] || return 1; done
}

# ledger_has_notice INDEX TEXT: node INDEX's ledger holds a notice with TEXT.
ledger_has_notice() {
    "$PY" - "$tmp/n$1/ledger.db" "$2" <<'PYEOF'
import msgpack, sqlite3, sys
db = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True, timeout=5)
for (env,) in db.execute("select envelope from records where type = 'notice'"):
    if msgpack.unpackb(msgpack.unpackb(env)["body"])["text"] == sys.argv[2]:
        sys.exit(0)
sys.exit(1)
PYEOF
}

# ledger_have_all TEXT INDEXES...: every listed node's ledger holds a notice
# with TEXT.
ledger_have_all() {
    local text=$1 i
    shift
    for i in "$@"; do ledger_has_notice "$i" "$text" || return 1; done
}

# ledger_same INDEXES...: every block id agrees at every height that two of
# the nodes share, and each holds heights 1..tip; prints the lowest tip.
ledger_same() {
    "$PY" - "$tmp" "$@" <<'PYEOF'
import sqlite3, sys
tmp, nodes = sys.argv[1], sys.argv[2:]
chains = {}
for i in nodes:
    db = sqlite3.connect("file:%s/n%s/ledger.db?mode=ro" % (tmp, i), uri=True, timeout=5)
    chains[i] = dict(db.execute("select height, id from blocks"))
    if chains[i] and sorted(chains[i]) != list(range(1, max(chains[i]) + 1)):
        sys.exit("n%s: heights are not 1..tip" % i)
for h in sorted(set().union(*[set(c) for c in chains.values()])):
    ids = {c[h] for c in chains.values() if h in c}
    if len(ids) != 1:
        sys.exit("conflicting blocks at height %d: %s" % (h, [x.hex()[:16] for x in ids]))
print(min(max(c) if c else 0 for c in chains.values()))
PYEOF
}

# ledger_receipts INDEX TASK: how many capsule receipts for TASK (hex) node
# INDEX's ledger holds (exactly one once the task is done).
ledger_receipts() {
    "$PY" - "$tmp/n$1/ledger.db" "$2" << 'PYEOF'
import msgpack, sqlite3, sys
db = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True, timeout=5)
n = 0
for (env,) in db.execute("select envelope from records where type = 'capsule-receipt'"):
    if msgpack.unpackb(msgpack.unpackb(env)["body"])["task"].hex() == sys.argv[2]:
        n += 1
print(n)
PYEOF
}
