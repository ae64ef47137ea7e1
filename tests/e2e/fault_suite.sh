#!/usr/bin/env bash
# End-to-end fault suite (issue 12 item 2): seven real wardend nodes, one
# genesis, the mesh, the agreement, verifier committees and capsule tasks,
# in two network namespaces joined by a veth pair (n0..n4 on side a, n5 and
# n6 on side b; plain loopback, and no partition, where namespaces are not
# available). Faults, one after the other:
#   1. kill -9 and restart of random nodes at random moments, during capsule
#      tasks (the executor killed while its sandbox runs) and during block
#      production (one node, then two at once: f = 2);
#   2. a network partition (the veth link goes down: 5 | 2) and its heal;
#   3. a compute host (warden-agent on n1) whose measured file changes
#      between two challenges;
#   4. a capsule whose program tries to reach the network;
#   5. a byzantine n6 (its wardend stopped; tools with its real keys): it
#      forges self-evidence with a wrong measurement (evil_node.py measure),
#      replays an old evidence record (replay), equivocates
#      (tests/scenarios/byzantine_peer.py), and sends evidence with bad
#      signatures (badsig).
# After each: the live ledgers are identical block by block up to the lowest
# tip; no committed block is lost (every block id ever seen at a height
# stays the one at that height on every node, and no node's tip goes back
# across its restarts); result capsules open only for their recipients
# (another user's key is refused; the stores serve the sealed bytes to any
# genesis node, sealing is what keeps them private); the misbehaving party
# is penalised where the code scores it; a notice published after the fault
# is committed on every live node. Ends with a summary line of counts.
# Usage: fault_suite.sh WARDEND WARDENCTL CAPSULE_SUBMIT WARDEN_AGENT
# (E2E_KEEP=1 keeps the temporary directory with every node's log.)
set -euo pipefail
WARDEND=$1
WARDENCTL=$2
SUBMIT=$3
AGENT=$4
HERE=$(cd "$(dirname "$0")" && pwd)
SCEN=$(cd "$HERE/../scenarios" && pwd)
tmp=$(mktemp -d /tmp/warden-e2e-XXXXXX)
# shellcheck source=../scenarios/mesh_lib.sh
source "$SCEN/mesh_lib.sh"
N=7
BYZ=6
EPOCH_BLOCKS=10
LOOKBACK=1
work_base=/dev/shm/$(basename "$tmp")
tag=$$
nsa=wde2e-a-$tag
nsb=wde2e-b-$tag
va=wdea$tag
vb=wdeb$tag
net=10.$((100 + RANDOM % 100)).$((RANDOM % 250))
NETNS=false
bg_pids=() # helper processes of the test (listeners, agent, tools)
FAULTS=0
RESTARTS=0
CHECKS=0
declare -A PHASE_S=()

cleanup() {
    local p
    for p in "${bg_pids[@]}"; do kill -KILL -- "-$p" 2> /dev/null || kill -KILL "$p" 2> /dev/null || true; done
    mesh_cleanup
    if $NETNS; then
        ip netns del "$nsa" 2> /dev/null || true
        ip netns del "$nsb" 2> /dev/null || true
        ip link del "$va" 2> /dev/null || true
    fi
    rm -rf "$work_base"-n*
    if [ -n "${E2E_KEEP:-}" ]; then echo "kept: $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
step() { echo "--- $* ($SECONDS s)"; }
ok() {
    CHECKS=$((CHECKS + 1))
    echo "    ok: $*"
}

[ -d /dev/shm ] && [ "$(stat -f -c %T /dev/shm)" = tmpfs ] || {
    echo "SKIP: no tmpfs at /dev/shm for capsule work areas"
    exit 77
}

# ---- the two sides ----
if ip netns add "$nsa" 2> /dev/null; then
    NETNS=true
    ip netns add "$nsb"
    ip link add "$va" type veth peer name "$vb"
    ip link set "$va" netns "$nsa"
    ip link set "$vb" netns "$nsb"
    ip -n "$nsa" addr add "$net.1/24" dev "$va"
    ip -n "$nsb" addr add "$net.2/24" dev "$vb"
    for ns in "$nsa" "$nsb"; do ip -n "$ns" link set lo up; done
    ip -n "$nsa" link set "$va" up
    ip -n "$nsb" link set "$vb" up
else
    echo "    network namespaces unavailable: every node on 127.0.0.1, no partition"
fi
side_b() { [ "$1" -ge 5 ]; }
host_of() {
    if ! $NETNS; then echo 127.0.0.1; elif side_b "$1"; then echo "$net.2"; else echo "$net.1"; fi
}
ns_of() { if side_b "$1"; then echo "$nsb"; else echo "$nsa"; fi; }
# ns_cmd INDEX: the prefix that runs a command in node INDEX's namespace.
ns_cmd() { if $NETNS; then echo ip netns exec "$(ns_of "$1")"; fi; }
# in_ns INDEX CMD...: runs CMD in node INDEX's network namespace.
in_ns() {
    local i=$1
    shift
    if $NETNS; then ip netns exec "$(ns_of "$i")" "$@"; else "$@"; fi
}
MESH_HOST_FN=host_of
start_node() {
    if $NETNS; then mesh_start "$1" ip netns exec "$(ns_of "$1")"; else mesh_start "$1"; fi
}
restart_node() {
    start_node "$1"
    RESTARTS=$((RESTARTS + 1))
}

# ---- ledger checks ----
# history INDEXES...: reads every listed node's blocks; fails when heights
# are not 1..tip, when a block id differs from the one recorded for its
# height by any earlier call (a committed block lost or replaced), or when
# a node's tip is below the highest tip recorded for it (it went back).
# Prints "LOWEST HIGHEST" tips.
history() {
    "$PY" - "$tmp" "$@" << 'EOF'
import json, os, sqlite3, sys
tmp, nodes = sys.argv[1], sys.argv[2:]
path = os.path.join(tmp, "history.json")
hist = json.load(open(path)) if os.path.exists(path) else {"ids": {}, "tips": {}}
tips = []
for i in nodes:
    db = sqlite3.connect("file:%s/n%s/ledger.db?mode=ro" % (tmp, i), uri=True, timeout=5)
    chain = dict(db.execute("select height, id from blocks"))
    tip = max(chain) if chain else 0
    if sorted(chain) != list(range(1, tip + 1)):
        sys.exit("n%s: heights are not 1..%d" % (i, tip))
    if tip < hist["tips"].get(i, 0):
        sys.exit("n%s: tip %d is below its earlier tip %d" % (i, tip, hist["tips"][i]))
    hist["tips"][i] = tip
    for h, bid in chain.items():
        known = hist["ids"].setdefault(str(h), bid.hex())
        if known != bid.hex():
            sys.exit("n%s: block %d is %s, was %s" % (i, h, bid.hex()[:16], known[:16]))
    tips.append(tip)
json.dump(hist, open(path + ".tmp", "w"))
os.replace(path + ".tmp", path)
print(min(tips), max(tips))
EOF
}

# committed_all TEXT INDEXES...: every listed ledger holds a notice TEXT.
committed_all() {
    local text=$1 i
    shift
    for i in "$@"; do ledger_has_notice "$i" "$text" || return 1; done
}

# after_fault NAME LIVE...: the checks after a fault on the live nodes.
after_fault() {
    local name=$1 r lo hi pub
    shift
    r=$(history "$@") || mesh_fail "$name: ledger history: $r"
    ok "$name: no committed block lost or replaced, no tip went back (tips ${r/ /..})"
    pub=${*: -1}
    mesh_ctl "$pub" mesh publish --text "after-$name" > /dev/null || mesh_fail "publish after $name"
    mesh_wait 40 committed_all "after-$name" "$@" || mesh_fail "after-$name not committed everywhere"
    ok "$name: a notice published at n$pub after the fault is committed on all ${#} live nodes"
    r=$(history "$@") || mesh_fail "$name: ledger history: $r"
    lo=${r% *}
    hi=${r#* }
    ledger_same "$@" > /dev/null || mesh_fail "$name: live ledgers differ"
    ok "$name: the live ledgers are identical block by block (lowest tip $lo, highest $hi)"
}

# rep AT EXPR: EXPR over node AT's reputation table `r` (rows by name).
rep() {
    "$WARDENCTL" --state "$tmp/n$1" reputation --json | "$PY" -c "
import json, sys
r = {n['name']: n for n in json.load(sys.stdin)['nodes']}
print($2)"
}
# tier AT NODE: NODE's attestation tier in AT's ledger.
tier() {
    mesh_ctl "$1" attest node "n$2" --json 2> /dev/null |
        "$PY" -c 'import json,sys; print(json.load(sys.stdin)["tier"])' || true
}
tier_on() { # tier_on NODE TIER INDEXES...
    local node=$1 want=$2 i
    shift 2
    for i in "$@"; do [ "$(tier "$i" "$node")" = "$want" ] || return 1; done
}

# ---- capsule helpers ----
cs() { # cs INDEX USER ARGS...
    local i=$1 user=$2
    shift 2
    "$SUBMIT" --socket "$tmp/n$i/control.sock" --key "$tmp/$user.key" "$@"
}
receipts() { ledger_receipts "$@"; } # mesh_lib.sh
task_status() { # task_status INDEX TASK: writes $tmp/st.TASK.json
    cs "$1" alice status "$2" --json > "$tmp/st.$2.json" 2> /dev/null || true
}
task_done() { # task_done TASK INDEXES...: done, as seen at the first listed node
    local task=$1
    shift
    task_status "$1" "$task"
    [ "$(json "$tmp/st.$task.json" 'j.get("state")')" = done ]
}
# live nodes (MESH_PIDS set)
live() {
    local i out=()
    for ((i = 0; i < N; i++)); do [ -n "${MESH_PIDS[i]:-}" ] && out+=("$i"); done
    echo "${out[@]}"
}

# ======================================================================
step "7 nodes: one genesis, one node policy, capsule work areas, n1 serves a compute host"
t_phase=$SECONDS
mesh_make "$N"
certs=()
for ((i = 0; i < N; i++)); do certs+=(--node "$tmp/n$i/node.cert"); done
# short epochs (self-evidence every epoch); a silent proposer's round lasts
# longer than two repair ticks, so an equivocation gets relayed and seen
"$WARDENCTL" genesis create --name e2e-faults "${certs[@]}" --param epoch_blocks=$EPOCH_BLOCKS \
    --param seed_lookback=$LOOKBACK --param agree_propose_ms=1200 --force \
    --out "$tmp/genesis" > /dev/null
chain=$("$WARDENCTL" genesis show "$tmp/genesis" --json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["chain_id"])')
sha() { sha256sum "$1" | cut -d' ' -f1; }
exe=$(readlink -f "$WARDEND")
digests="\"$exe\": [\"$(sha "$exe")\"]"
for ((i = 0; i < N; i++)); do
    cp "$tmp/genesis" "$tmp/n$i/genesis"
    printf 'app v1 of n%d\n' "$i" > "$tmp/n$i/app.bin"
    digests+=", \"$tmp/n$i/app.bin\": [\"$(sha "$tmp/n$i/app.bin")\"]"
    cat > "$tmp/n$i/conf.d/60-e2e.conf" << EOF
attest
    node_policy = "$tmp/policy.json"
    measure = "$tmp/n$i/app.bin"
capsule
    work_dir = "$work_base-n$i"
EOF
done
cat > "$tmp/policy.json" << EOF
{"meta": {"version": 1, "generator": 0}, "release": 0,
 "digests": {$digests},
 "excludes": ["^warden:", ".*/node\\\\.cert\$", ".*/genesis\$"], "keyrings": {},
 "ima": {"ignored_keyrings": [], "log_hash_alg": "sha1", "dm_policy": null},
 "ima-buf": {}, "verification-keys": ""}
EOF
# n1's compute host: files the agent measures, and what n1 may ask for
HOSTN=1
HOSTDIR=$tmp/host
mkdir -p "$HOSTDIR"
printf 'PermitRootLogin no\n' > "$HOSTDIR/sshd_config"
printf 'a measured program\n' > "$HOSTDIR/program.bin"
attest_port=$(($(mesh_free_port_base 1)))
cat > "$tmp/n$HOSTN/attest.items" << EOF
file $HOSTDIR/sshd_config $(sha "$HOSTDIR/sshd_config")
file $HOSTDIR/program.bin $(sha "$HOSTDIR/program.bin")
EOF
cat >> "$tmp/n$HOSTN/conf.d/60-e2e.conf" << EOF
attest
    listen = "tcp://$(host_of $HOSTN):$attest_port"
    items = "$tmp/n$HOSTN/attest.items"
    interval = "500ms"
    deadline = "2s"
    min_items = 2
EOF
"$WARDEND" -c "$tmp/n$HOSTN/warden.conf" --check-config > "$tmp/check.log" 2>&1 ||
    mesh_fail "check-config: $(cat "$tmp/check.log")"
ALL=(0 1 2 3 4 5 6)
for i in "${ALL[@]}"; do start_node "$i"; done
for i in "${ALL[@]}"; do mesh_wait_up "$i"; done
mesh_wait 30 ledger_tips_at_least 3 "${ALL[@]}" || mesh_fail "no blocks committed"
all_affirming() {
    local k
    for k in "${ALL[@]}"; do tier_on "$k" affirming "${ALL[@]}" || return 1; done
}
mesh_wait 60 all_affirming || mesh_fail "the nodes' self-evidence is not certified everywhere"
ok "7 nodes commit blocks; every node's self-evidence certified (affirming) in every ledger"
after_fault start "${ALL[@]}"
PHASE_S[setup]=$((SECONDS - t_phase))

# ======================================================================
step "fault 1: kill -9 and restart at random moments during capsule tasks and block production"
t_phase=$SECONDS
cs 0 alice keygen > "$tmp/alice.pub" 2> /dev/null
cs 1 bob keygen > "$tmp/bob.pub" 2> /dev/null
cs 2 mallory keygen > /dev/null 2>&1
printf '%s\n' carol dave erin frank grace heidi ivan > "$tmp/alice.txt"
printf '%s\n' bob erin heidi judy mallory ivan trent > "$tmp/bob.txt"
printf '%s\n' erin heidi ivan > "$tmp/expected.txt"
cat > "$tmp/intersect.sh" << 'EOF'
#!/bin/sh
# the names common to both lists under /in, after two seconds of work
set -e
sleep 2
n=0
for f in /in/*; do
    n=$((n + 1))
    sort -u "$f" > "/tmp/$n"
done
cat /tmp/1 /tmp/2 | sort | uniq -d > /out/common.txt
EOF
env="$tmp/env"
mkdir -p "$env/bin"
cp /bin/busybox "$env/bin/busybox"
for tool in sh sort uniq cat nc sleep echo; do ln -s busybox "$env/bin/$tool"; done
ldd /bin/busybox | grep -o '/[^ ]*' | while read -r lib; do
    mkdir -p "$env$(dirname "$lib")"
    cp -L "$lib" "$env$lib"
done
code=$(cs 0 alice put "$tmp/intersect.sh" --kind code)
envid=$(cs 0 alice put "$env" --kind env)
alice_in=$(cs 0 alice put "$tmp/alice.txt" --allow-code "$code")
bob_in=$(cs 1 bob put "$tmp/bob.txt" --allow-code "$code")
submit_task() { # prints the task id
    cs 0 alice --code "$code" --entry /code/intersect.sh --env "$envid" \
        --input "$alice_in@n0:alice.txt" --input "$bob_in@n1:bob.txt" \
        --to me --to "$(cat "$tmp/bob.pub")" --time 20s --mem 64M --json 2> /dev/null |
        "$PY" -c "import json,sys; print(json.load(sys.stdin)['task'])"
}
# running_on TASK: the task's executor reports "running" (prints its index)
running_on() {
    local i
    for i in $(live); do
        task_status "$i" "$1"
        if [ "$(json "$tmp/st.$1.json" 'j.get("state")')" = running ]; then
            echo "$i"
            return 0
        fi
    done
    return 1
}
tasks=()
ROUNDS=9
for ((round = 0; round < ROUNDS; round++)); do
    task=$(submit_task) || mesh_fail "submit in round $round"
    tasks+=("$task")
    mesh_ctl 3 mesh publish --text "crash-$round" > /dev/null || mesh_fail "publish crash-$round"
    victims=()
    case $((round % 3)) in
    0) # the executor, while its sandbox runs
        mesh_wait 30 running_on "$task" || mesh_fail "task ${task:0:8} never ran"
        victims=("$(running_on "$task" || echo $((RANDOM % N)))")
        sleep "0.$((RANDOM % 5 + 1))"
        what="the executor n${victims[0]} of task ${task:0:8} while it runs"
        ;;
    1) # a random node at a random moment of block production
        sleep "0.$((RANDOM % 9 + 1))"
        victims=($((RANDOM % N)))
        what="n${victims[0]} at a random moment"
        ;;
    2) # two nodes at once (f = 2): commits continue with five
        sleep "0.$((RANDOM % 9 + 1))"
        a=$((RANDOM % N))
        b=$(((a + 1 + RANDOM % (N - 1)) % N))
        victims=("$a" "$b")
        what="n$a and n$b at once"
        ;;
    esac
    # tips recorded before the kill: the restarted node's may not go below
    r=$(history $(live)) || mesh_fail "round $round: $r"
    for v in "${victims[@]}"; do
        mesh_kill "$v"
        FAULTS=$((FAULTS + 1))
    done
    echo "    round $round: kill -9 of $what"
    sleep "$((RANDOM % 2)).$((RANDOM % 9 + 1))"
    for v in "${victims[@]}"; do restart_node "$v"; done
    for v in "${victims[@]}"; do mesh_wait_up "$v"; done
done
for task in "${tasks[@]}"; do
    mesh_wait 90 task_done "$task" 0 ||
        mesh_fail "task ${task:0:8} did not end: $(cat "$tmp/st.$task.json")"
done
for ((round = 0; round < ROUNDS; round++)); do
    mesh_wait 40 committed_all "crash-$round" "${ALL[@]}" || mesh_fail "crash-$round not committed"
done
ok "$ROUNDS rounds: every notice published during the crashes is committed everywhere"
one_receipt_everywhere() {
    local i
    for i in "${ALL[@]}"; do [ "$(receipts "$i" "$1")" = 1 ] || return 1; done
}
for task in "${tasks[@]}"; do
    mesh_wait 20 one_receipt_everywhere "$task" ||
        mesh_fail "task ${task:0:8}: not exactly one receipt in every ledger"
    task_status 0 "$task"
    [ "$(json "$tmp/st.$task.json" 'j["receipt"].get("exit")')" = 0 ] ||
        mesh_fail "task ${task:0:8}: $(cat "$tmp/st.$task.json")"
done
ok "${#tasks[@]} tasks: each done with exactly one receipt (exit 0) in every ledger"
# Results: open for alice and bob, not for mallory.
t_last=${tasks[-1]}
task_status 0 "$t_last"
rid=$(json "$tmp/st.$t_last.json" 'j["outputs"][0]')
executor=$(json "$tmp/st.$t_last.json" 'j["executor"]')
for task in "${tasks[@]}"; do
    task_status 0 "$task"
    r=$(json "$tmp/st.$task.json" 'j["outputs"][0]')
    x=$(json "$tmp/st.$task.json" 'j["executor"]')
    out=$(cs 0 alice open "$r" --from "$x" --out "$tmp/alice-$task" 2> "$tmp/open.err") ||
        mesh_fail "alice cannot open the result of ${task:0:8}: $(cat "$tmp/open.err")"
    cmp -s "$out" "$tmp/expected.txt" || mesh_fail "alice's result of ${task:0:8} is wrong"
done
ok "alice opens every result: exactly the intersection"
out=$(cs 1 bob open "$rid" --from "$executor" --out "$tmp/bob-out" 2> "$tmp/open.err") ||
    mesh_fail "bob cannot open the result through n1: $(cat "$tmp/open.err")"
cmp -s "$out" "$tmp/expected.txt" || mesh_fail "bob's result is wrong"
ok "bob (the other recipient) opens it through n1"
set +e
cs 2 mallory open "$rid" --from "$executor" --out "$tmp/mallory-out" > /dev/null 2> "$tmp/mallory.err"
rc=$?
set -e
[ $rc -eq 1 ] && grep -q "not one of its recipients" "$tmp/mallory.err" ||
    mesh_fail "mallory (not a recipient): exit $rc, $(cat "$tmp/mallory.err")"
[ -z "$(ls -A "$tmp/mallory-out" 2> /dev/null)" ] || mesh_fail "mallory got plaintext"
ok "mallory's key (not a recipient) cannot open the result, though n2 fetched the sealed bytes"
if grep -h "signed two different" "$tmp"/n*/wardend.log; then
    mesh_fail "an honest node was reported for equivocation after its restart"
fi
ok "no honest node reported for equivocation across $RESTARTS restarts"
after_fault crashes "${ALL[@]}"
PHASE_S[crashes]=$((SECONDS - t_phase))

# ======================================================================
if $NETNS; then
    step "fault 2: network partition 5 | 2 (the veth link goes down), then heal"
    t_phase=$SECONDS
    SIDE_A=(0 1 2 3 4)
    SIDE_B=(5 6)
    history "${ALL[@]}" > /dev/null
    ip -n "$nsa" link set "$va" down
    FAULTS=$((FAULTS + 1))
    for i in "${SIDE_A[@]}"; do mesh_wait 20 mesh_sees "$i" dead n5 n6 || mesh_fail "n$i: side b not dead"; done
    # The minority probes slower: its relays sit across the cut and never
    # nack, so Lifeguard's local health rises to its cap and each probe
    # period stretches to 9 x 500 ms; five members (and a reclaim ping)
    # take up to about 30 s to be declared dead there.
    for i in "${SIDE_B[@]}"; do mesh_wait 60 mesh_sees "$i" dead n0 n1 n2 n3 n4 || mesh_fail "n$i: side a not dead"; done
    ok "each side declares the other dead"
    bt5=$(ledger_tip 5)
    bt6=$(ledger_tip 6)
    # Weights come from reputation (participation, passes): 5 of 7 nodes
    # hold a quorum only when side b holds less than a third of the weight
    # of the set deciding the next height. That set decides what side a may
    # do: keep committing with a quorum, else halt like side b.
    weights=$(rep 0 "' '.join('%s=%d' % (k, v['deciding_weight']) for k, v in sorted(r.items()))")
    quorum_a=$(rep 0 "3 * sum(v['deciding_weight'] for k, v in r.items() if k not in ('n5', 'n6')) > \
2 * sum(v['deciding_weight'] for v in r.values())")
    echo "    deciding weights at the cut: $weights"
    mesh_ctl 0 mesh publish --text "cut-a" > /dev/null || mesh_fail "publish at n0"
    mesh_ctl 5 mesh publish --text "cut-b" > /dev/null || mesh_fail "publish at n5"
    if [ "$quorum_a" = True ]; then
        mesh_wait 30 committed_all "cut-a" "${SIDE_A[@]}" || {
            for i in "${ALL[@]}"; do echo "  n$i: $(mesh_ctl "$i" agree status 2>&1 | head -1)"; done
            mesh_fail "side a (5 of 7, a quorum) stopped committing"
        }
        h=$(ledger_tip 0)
        mesh_wait 30 ledger_tips_at_least $((h + 3)) "${SIDE_A[@]}" || mesh_fail "side a stalls"
        ok "side a (5 of 7, a quorum of the weight) keeps committing: tip $(ledger_tip 0)"
    else
        ta=$(ledger_tip 0)
        sleep 5
        [ "$(ledger_tip 0)" = "$ta" ] || mesh_fail "side a committed without a quorum of the weight"
        ok "side a (5 of 7 nodes, but not a quorum of the weight) halts too: tip $ta"
    fi
    sleep 1
    [ "$(ledger_tip 5)" = "$bt5" ] && [ "$(ledger_tip 6)" = "$bt6" ] ||
        mesh_fail "side b (2 of 7) committed during the cut"
    ! committed_all "cut-b" 5 || mesh_fail "cut-b committed without a quorum"
    ! committed_all "cut-b" 0 || mesh_fail "cut-b crossed the cut"
    r=$(history "${ALL[@]}") || mesh_fail "during the cut: $r"
    ok "side b (2 of 7) commits nothing and forks nothing (tips $bt5, $bt6)"
    ip -n "$nsa" link set "$va" up
    heal=$SECONDS
    for i in "${ALL[@]}"; do
        mesh_wait 40 mesh_sees "$i" alive n0 n1 n2 n3 n4 n5 n6 || mesh_fail "n$i: not all alive after heal"
    done
    mesh_wait 40 committed_all "cut-b" "${ALL[@]}" || mesh_fail "cut-b not committed after the heal"
    mesh_wait 40 committed_all "cut-a" "${ALL[@]}" || mesh_fail "side b did not catch up"
    ok "healed: all alive everywhere, side b caught up, both notices committed ($((SECONDS - heal)) s)"
    after_fault partition "${ALL[@]}"
    PHASE_S[partition]=$((SECONDS - t_phase))
else
    echo "--- fault 2 skipped: no network namespaces"
fi

# ======================================================================
step "fault 3: n1's compute host (warden-agent) changes a measured file between challenges"
t_phase=$SECONDS
host_has() {
    mesh_ctl "$HOSTN" attest host --json > "$tmp/host.json" && [ "$(json "$tmp/host.json" "$1")" = True ]
}
mesh_ctl "$HOSTN" attest token --host hostA --json > "$tmp/token.json"
printf 'quiet %s\n' "$(json "$tmp/token.json" 'j["cmdline"]')" > "$HOSTDIR/cmdline"
agent_cmd=("$AGENT" --cmdline "$HOSTDIR/cmdline" --host hostA)
$NETNS && agent_cmd=(ip netns exec "$(ns_of $HOSTN)" "${agent_cmd[@]}")
setsid "${agent_cmd[@]}" > /dev/null 2> "$tmp/agent.log" < /dev/null &
bg_pids+=($!)
disown $!
mesh_wait 30 host_has '[(x["state"], x["passed"] >= 2) for x in j["hosts"]] == [("trusted", True)]' ||
    mesh_fail "hostA is not trusted: $(cat "$tmp/host.json") $(tail -5 "$tmp/agent.log")"
# ledger_host_evidence INDEX OUTCOME: ids of hostA's evidence with OUTCOME in the ledger
ledger_host_evidence() {
    "$PY" - "$tmp/n$1/ledger.db" "$2" << 'EOF'
import msgpack, sqlite3, sys
db = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True, timeout=5)
ids = []
for rid, env in db.execute("select id, envelope from records where type = 'evidence' order by height, idx"):
    b = msgpack.unpackb(msgpack.unpackb(env)["body"])
    if b["subject"].get("host") == "hostA" and b.get("challenge", {}).get("outcome") == sys.argv[2]:
        ids.append(rid.hex())
print(" ".join(ids))
sys.exit(0 if ids else 1)
EOF
}
host_ev_all() { # host_ev_all OUTCOME: hostA evidence with OUTCOME in every ledger
    local i
    for i in "${ALL[@]}"; do ledger_host_evidence "$i" "$1" > /dev/null || return 1; done
}
mesh_wait 30 host_ev_all pass || mesh_fail "hostA's pass evidence is not in every ledger"
ok "hostA trusted by n$HOSTN; its pass evidence in every ledger"
node_failed_before=$(rep 0 "r['n$HOSTN']['failed']")
printf 'PermitRootLogin yes\n' > "$HOSTDIR/sshd_config"
FAULTS=$((FAULTS + 1))
mesh_wait 30 host_has 'j["hosts"][0]["state"] == "untrusted" and j["hosts"][0]["failed"] >= 1' ||
    mesh_fail "hostA is not untrusted after the change: $(cat "$tmp/host.json")"
ok "hostA's next challenge fails; n$HOSTN holds it untrusted"
mesh_wait 30 host_ev_all fail || mesh_fail "hostA's fail evidence is not in every ledger"
fail_id=$(ledger_host_evidence 0 fail | cut -d' ' -f1)
ok "hostA's fail evidence ${fail_id:0:16} is in every ledger"
# committee verdicts on the fail evidence: contraindicated, none accepting
verdicts_on() { # verdicts_on INDEX EVIDENCE: "tier" of each committee verdict on it
    "$PY" - "$tmp/n$1/ledger.db" "$2" << 'EOF'
import msgpack, sqlite3, sys
db = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True, timeout=5)
for (env,) in db.execute("select envelope from records where type = 'committee-verdict'"):
    v = msgpack.unpackb(msgpack.unpackb(msgpack.unpackb(env)["body"])["verdict"])
    if v["evidence"].hex() == sys.argv[2]:
        print(v["tier"])
EOF
}
rejected_by_committee() {
    local t
    t=$(verdicts_on 0 "$1" | sort -u | tr '\n' ' ')
    [ "$t" = "contraindicated " ]
}
charged() { [ "$(rep 0 "r['n$HOSTN']['failed']")" -gt "$node_failed_before" ]; }
# docs/PROTOCOL.md "Reputation": a decided host record counts for the node
# that boots the host, in its score only; n1's own evidence is sound, so it
# stays affirming (and a validator).
if mesh_wait 30 rejected_by_committee "$fail_id"; then
    ok "the committee's verdicts on it are contraindicated ($(verdicts_on 0 "$fail_id" | wc -l) verdicts)"
    mesh_wait 30 charged || mesh_fail "n$HOSTN was not charged a failure for its host"
    ok "n$HOSTN answers for its host: failed $node_failed_before -> $(rep 0 "r['n$HOSTN']['failed']")"
else
    echo "    NOTE: no committee verdict on hostA's fail evidence within 30 s: $(verdicts_on 0 "$fail_id" | tr '\n' ' ')"
fi
[ "$(tier 0 "$HOSTN")" = affirming ] || mesh_fail "n$HOSTN is $(tier 0 "$HOSTN") for its host's fault"
ok "n$HOSTN itself stays affirming"
after_fault host-tamper "${ALL[@]}"
PHASE_S[host]=$((SECONDS - t_phase))

# ======================================================================
step "fault 4: a capsule whose program tries to reach the network"
t_phase=$SECONDS
net_port=$(mesh_free_port_base 1)
listen_in() { # listen_in INDEX FILE: a TCP listener on 0.0.0.0:net_port in INDEX's namespace
    # its own process group (setsid), so cleanup's kill -- -PID ends it
    setsid $(ns_cmd "$1") "$PY" - "$net_port" "$2" << 'EOF' &
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1])))
s.listen(8)
open(sys.argv[2], "a").close()
while True:
    c, peer = s.accept()
    open(sys.argv[2], "a").write("connection from %s:%d\n" % peer)
    c.close()
EOF
    bg_pids+=($!)
    disown $!
}
listen_in 0 "$tmp/conn.a"
$NETNS && listen_in 5 "$tmp/conn.b"
mesh_wait 5 test -e "$tmp/conn.a" || mesh_fail "listener did not start"
# the listener counts a connection from the host side
in_ns 0 "$PY" -c "import socket; socket.create_connection(('$(host_of 0)', $net_port), 2).close()"
mesh_wait 5 test -s "$tmp/conn.a" || mesh_fail "the listener does not count connections"
: > "$tmp/conn.a"
cat > "$tmp/net.sh" << EOF
#!/bin/sh
# tries every address a node of this cluster has, then lists the interfaces
for a in 127.0.0.1 $(host_of 0) $(host_of 5); do
    if echo hi | nc -w 1 \$a $net_port > /dev/null 2>&1; then r=connected; else r=refused; fi
    echo "\$a \$r" >> /out/attempts.txt
done
cat /proc/net/dev > /out/netdev.txt
EOF
set +e
cs 0 alice --code "$tmp/net.sh" --env "$envid" --to me --time 10s --wait --timeout 60s \
    --out "$tmp/net-out" --json > "$tmp/net.json" 2> "$tmp/net.err"
rc=$?
set -e
FAULTS=$((FAULTS + 1))
[ $rc -eq 0 ] || mesh_fail "the network task: exit $rc $(cat "$tmp/net.err" "$tmp/net.json")"
attempts=$(cat "$tmp/net-out"/* | grep -E '^[0-9.]+ (connected|refused)$' || true)
[ "$(echo "$attempts" | grep -c refused)" -ge 2 ] && ! echo "$attempts" | grep -q connected ||
    mesh_fail "the sandbox reached the network: $attempts"
ok "every connection attempt from the sandbox failed: $(echo "$attempts" | tr '\n' ';')"
ifaces=$(cat "$tmp/net-out"/* | awk -F: '/:/ && $1 !~ /\|/ {gsub(/ /, "", $1); print $1}' | sort -u | tr '\n' ' ')
[ "$ifaces" = "lo " ] || mesh_fail "the sandbox sees interfaces: $ifaces"
ok "the sandbox's network namespace has only lo"
sleep 0.5
[ ! -s "$tmp/conn.a" ] && [ ! -s "$tmp/conn.b" ] 2> /dev/null ||
    mesh_fail "a listener saw a connection: $(cat "$tmp"/conn.*)"
ok "no listener on either side saw a connection"
net_task=$(json "$tmp/net.json" 'j["task"]')
for i in "${ALL[@]}"; do
    mesh_wait 10 test "$(receipts "$i" "$net_task")" = 1 || mesh_fail "n$i: no single receipt"
done
ok "its receipt is in every ledger"
after_fault capsule-network "${ALL[@]}"
PHASE_S[capsule_net]=$((SECONDS - t_phase))

# ======================================================================
step "fault 5: n$BYZ turns byzantine (its wardend stopped; tools with its real keys)"
t_phase=$SECONDS
HONEST=(0 1 2 3 4 5)
byz_id=$("$WARDENCTL" --state "$tmp/n$BYZ" keys show --json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["sign_pk"])')
mesh_kill "$BYZ"
targets=()
for i in "${HONEST[@]}"; do
    targets+=("tcp://$(host_of "$i"):${MESH_PORTS[i]}=$(mesh_ctl "$i" keys show --json |
        "$PY" -c 'import json,sys; print(json.load(sys.stdin)["curve_pk"])')")
done
evil() { # evil MODE SECONDS: evil_node.py as n$BYZ from its namespace
    in_ns "$BYZ" "$PY" "$HERE/evil_node.py" "$1" "$tmp/n$BYZ" "$chain" "$tmp/n0/ledger.db" \
        "$EPOCH_BLOCKS" "$2" "${targets[@]}"
}
failed_before=$(rep 0 "r['n$BYZ']['failed']")

echo "    5a: n$BYZ equivocates while still a validator (byzantine_peer.py: two different votes per round)"
peer_target() { echo "tcp://$(host_of "$1"):${MESH_PORTS[$1]}=$(mesh_ctl "$1" keys show --json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["curve_pk"])')"; }
group_a="$(peer_target 0),$(peer_target 1),$(peer_target 2)"
group_b="$(peer_target 3),$(peer_target 4),$(peer_target 5)"
setsid $(ns_cmd "$BYZ") "$PY" "$SCEN/byzantine_peer.py" "$tmp/n$BYZ" "$chain" \
    "tcp://$(host_of "$BYZ"):${MESH_PORTS[BYZ]}" 60 "$group_a" "$group_b" > "$tmp/byz.out" 2>&1 &
byz_pid=$!
bg_pids+=("$byz_pid")
FAULTS=$((FAULTS + 1))
accused() { # accused INDEX: validators (hex) named by equivocation records
    "$PY" - "$tmp/n$1/ledger.db" << 'EOF'
import msgpack, sqlite3, sys
db = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True, timeout=5)
for (env,) in db.execute("select envelope from records where type = 'equivocation'"):
    print(msgpack.unpackb(msgpack.unpackb(env)["body"])["validator"].hex())
EOF
}
caught_everywhere() {
    local i
    for i in "${HONEST[@]}"; do accused "$i" | grep -q "^$byz_id$" || return 1; done
}
mesh_wait 60 caught_everywhere || mesh_fail "no equivocation record naming n$BYZ in every ledger"
kill -TERM -- "-$byz_pid" 2> /dev/null || true
wait "$byz_pid" 2> /dev/null || true
sed 's/^/    /' "$tmp/byz.out"
for i in "${HONEST[@]}"; do
    [ "$(accused "$i" | sort -u)" = "$byz_id" ] || mesh_fail "n$i accuses someone else: $(accused "$i")"
done
ok "equivocation records name n$BYZ, and only n$BYZ, in every ledger"
slashed() {
    local i
    for i in "${HONEST[@]}"; do
        [ "$(rep "$i" "r['n$BYZ']['slashes'] >= 1 and r['n$BYZ']['quarantined'] and r['n$BYZ']['weight'] == 0 \
            and all(v['slashes'] == 0 for k, v in r.items() if k != 'n$BYZ')")" = True ] || return 1
    done
}
mesh_wait 20 slashed || mesh_fail "n$BYZ not slashed everywhere: $(rep 0 "r['n$BYZ']")"
ok "n$BYZ slashed and quarantined, weight 0, in every reputation table: $(rep 0 "{k: r['n$BYZ'][k] for k in ('slashes', 'failed', 'score_bp', 'weight')}")"
after_fault equivocation "${HONEST[@]}"

echo "    5b: self-evidence with a wrong measurement of the wardend binary, properly signed"
r=$(evil measure 4) || mesh_fail "evil_node.py measure: $r"
read -r _ forged_id _ <<< "$r"
FAULTS=$((FAULTS + 1))
forged_in_all() {
    local i
    for i in "${HONEST[@]}"; do
        "$PY" -c "import sqlite3,sys; db=sqlite3.connect('file:$tmp/n$i/ledger.db?mode=ro', uri=True)
sys.exit(0 if db.execute('select 1 from records where id = ?', (bytes.fromhex('$forged_id'),)).fetchone() else 1)" ||
            return 1
    done
}
mesh_wait 20 forged_in_all || mesh_fail "the forged evidence ${forged_id:0:16} is not in every ledger"
mesh_wait 40 tier_on "$BYZ" contraindicated "${HONEST[@]}" ||
    mesh_fail "n$BYZ is not contraindicated everywhere: $(for i in "${HONEST[@]}"; do tier "$i" "$BYZ"; done | tr '\n' ' ')"
ok "the forged evidence is committed and rejected: n$BYZ contraindicated in every ledger"
grep -h -m2 "evidence ${forged_id:0:8}" "$tmp"/n0/wardend.log | sed 's/^/    n0 log: /' || true
[ "$(rep 0 "r['n$BYZ']['failed'] > $failed_before")" = True ] ||
    mesh_fail "n$BYZ's failure is not counted: $(rep 0 "r['n$BYZ']")"
ok "n$BYZ's reputation: failed $failed_before -> $(rep 0 "r['n$BYZ']['failed']"), weight $(rep 0 "r['n$BYZ']['weight']")"
after_fault forged-evidence "${HONEST[@]}"

echo "    5c: n$BYZ's oldest evidence record re-gossiped byte for byte"
count_record() { # count_record INDEX ID: rows with that record id
    "$PY" -c "import sqlite3; db=sqlite3.connect('file:$tmp/n$1/ledger.db?mode=ro', uri=True)
print(db.execute('select count(*) from records where id = ?', (bytes.fromhex('$2'),)).fetchone()[0])"
}
replay_verdicts() { # committee verdicts on n$BYZ's oldest evidence, in n0's ledger
    verdicts_on 0 "$("$PY" -c "import sqlite3; db=sqlite3.connect('file:$tmp/n0/ledger.db?mode=ro', uri=True)
print(db.execute('select id from records where type = \\'evidence\\' and signer = ? order by height, idx',
                 (bytes.fromhex('$byz_id'),)).fetchone()[0].hex())")" | wc -l
}
verdicts_before=$(replay_verdicts)
r=$(evil replay 3) || mesh_fail "evil_node.py replay: $r"
read -r _ replay_id _ <<< "$r"
FAULTS=$((FAULTS + 1))
h=$(ledger_tip 0)
mesh_wait 20 ledger_tips_at_least $((h + 4)) "${HONEST[@]}" || mesh_fail "commits stalled after the replay"
for i in "${HONEST[@]}"; do
    [ "$(count_record "$i" "$replay_id")" = 1 ] || mesh_fail "n$i holds the replayed record $(count_record "$i" "$replay_id") times"
done
[ "$(replay_verdicts)" = "$verdicts_before" ] || mesh_fail "the replay drew new committee verdicts"
ok "the replayed record ${replay_id:0:16} stays once in every ledger; no new verdict on it ($verdicts_before before and after)"
mesh_wait 20 tier_on "$BYZ" contraindicated "${HONEST[@]}" || mesh_fail "the replay changed n$BYZ's status"
ok "the replay does not restore n$BYZ's status: still contraindicated"

echo "    5d: evidence records with corrupted signatures"
r=$(evil badsig 5) || mesh_fail "evil_node.py badsig: $r"
read -r _ _ nbad <<< "$r"
FAULTS=$((FAULTS + 1))
banned_by() { # banned_by INDEX: node INDEX's gossip counts invalid records from n6, or banned it
    mesh_ctl "$1" peers --json > "$tmp/peers.$1.json" 2> /dev/null &&
        [ "$(json "$tmp/peers.$1.json" "[(p['invalid'] > 0 and (p['banned'] or p['graylisted'] or p['score'] < 0)) for p in j['peers'] if p['name'] == 'n$BYZ'] == [True]")" = True ]
}
for i in "${HONEST[@]}"; do
    mesh_wait 10 banned_by "$i" || mesh_fail "n$i does not penalise n$BYZ's bad records: $(json "$tmp/peers.$i.json" "[p for p in j['peers'] if p['name'] == 'n$BYZ']")"
done
ok "$nbad bad-signature records: every honest node counts them invalid and graylists or bans n$BYZ ($(json "$tmp/peers.0.json" "[(p['invalid'], p['score'], p['banned']) for p in j['peers'] if p['name'] == 'n$BYZ'][0]"))"
no_bad_evidence() {
    "$PY" - "$tmp/n$1/ledger.db" "$byz_id" << 'EOF'
import hashlib, msgpack, sqlite3, sys
import nacl.signing
db = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True, timeout=5)
for (env,) in db.execute("select envelope from records where signer = ?", (bytes.fromhex(sys.argv[2]),)):
    e = msgpack.unpackb(env)
    d = hashlib.sha256(b"warden/1\x00" + e["type"].encode() + b"\x00" + e["chain"] + e["body"]).digest()
    nacl.signing.VerifyKey(e["from"]).verify(d, e["sig"])  # raises on a bad signature
EOF
}
for i in "${HONEST[@]}"; do no_bad_evidence "$i" || mesh_fail "n$i's ledger holds a badly signed record"; done
ok "no record of n$BYZ with a bad signature is in any ledger (every signature re-checked in Python)"
after_fault bad-signatures "${HONEST[@]}"
PHASE_S[byzantine]=$((SECONDS - t_phase))

# ======================================================================
step "end: honest nodes still affirming, logs clean"
for k in "${HONEST[@]}"; do
    t=$(tier 0 "$k")
    [ "$t" = affirming ] || [ "$t" = warning ] || mesh_fail "honest n$k is $t"
done
ok "every honest node is still certified in n0's ledger"
if grep -h "signed two different" "$tmp"/n*/wardend.log | grep -v "n$BYZ ("; then
    mesh_fail "an honest node was reported for equivocation"
fi
mesh_check_logs
ok "no sanitizer report, no wardend child died other than by the test's kill -9"
blocks=$(ledger_tip 0)
echo "e2e summary: faults=$FAULTS blocks=$blocks restarts=$RESTARTS checks=$CHECKS" \
    "tasks=${#tasks[@]} seconds=$SECONDS phases:$(for k in setup crashes partition host capsule_net byzantine; do
        printf ' %s=%s' "$k" "${PHASE_S[$k]:-skipped}"; done)"
echo "PASS ($SECONDS s)"
