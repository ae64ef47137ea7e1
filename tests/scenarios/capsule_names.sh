#!/usr/bin/env bash
# Scenario: the seed capsule workload (issue 9 item 7) with real wardend
# processes on loopback.
#   3 nodes, one genesis, the mesh and the agreement running ->
#   alice (a user of n0) uploads the intersection code (a busybox sh
#   script) and a busybox environment, and seals her list of names to n0
#   with a policy that only that code may use it; bob (a user of n1) seals
#   his list to n1 with the same policy ->
#   alice submits the task at n0 with both inputs, results sealed to her
#   and to bob: an executor is elected by VRF sortition on the ledger,
#   fetches the capsules over channel 5, gets both keys released by their
#   holders and runs the script in the sandbox ->
#   alice opens the result with her key and gets exactly the intersection;
#   bob fetches it through n1 and opens it with his key: the same ->
#   neither alice's nor bob's key opens the other's input ->
#   the executor's receipt is committed in every node's ledger ->
#   a task with other code is refused by the holders with the policy
#   reason (exit 5); an endless loop with --time 1s is killed and the
#   receipt says "wall" (exit 6); an input only affirming nodes may use is
#   refused at once: no eligible executor (exit 4) ->
#   every other exit status of capsule-submit, with its --json error object:
#   usage (2), wardend unreachable (3), timed out waiting (7), the task failed
#   on the executor (8) ->
#   escapes: a program that connects to a TCP listener the test opens on
#   127.0.0.1 fails and the listener sees no connection; one that reads the
#   nodes' state directories fails (exit 3 in its receipt, nothing in /out);
#   a memory hog with --mem 32M is killed: memory ->
#   the executor's whole wardend is killed (kill -9) while the task runs and
#   restarted: the task ends with exactly one receipt in every ledger ->
#   an executor killed for good (the code's policy, put --allow-node, keeps
#   the holder n0 out): its deadline (wall limit + the genesis's
#   task_grace_ms, by block time) passes, another allowed node claims the
#   task and runs it, one receipt (the other's); the lost node comes back,
#   catches up and publishes nothing for it.
# Usage: capsule_names.sh WARDEND WARDENCTL CAPSULE_SUBMIT
set -euo pipefail
WARDEND=$1
WARDENCTL=$2
SUBMIT=$3
HERE=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d /tmp/warden-capsule-XXXXXX)
# shellcheck source=mesh_lib.sh
source "$HERE/mesh_lib.sh"
# shellcheck source=cluster_lib.sh
source "$HERE/cluster_lib.sh"
work_base=/dev/shm/$(basename "$tmp")
listener=
trap '[ -n "$listener" ] && kill "$listener" 2> /dev/null; mesh_cleanup; rm -rf "$tmp" "$work_base"-n*' EXIT
step() { echo "--- $* ($SECONDS s)"; }
N=4

[ -d /dev/shm ] && [ "$(stat -f -c %T /dev/shm)" = tmpfs ] || {
    echo "no tmpfs at /dev/shm: skipped"
    exit 77
}

# cs INDEX USER ARGS...: capsule-submit as USER against node INDEX.
cs() {
    local i=$1 user=$2
    shift 2
    "$SUBMIT" --socket "$tmp/n$i/control.sock" --key "$tmp/$user.key" "$@"
}

# receipt_in INDEX TASK: node INDEX's ledger holds a receipt for TASK.
receipt_in() { [ "$(ledger_receipts "$1" "$2")" -ge 1 ]; }

# state_is INDEX TASK STATE: capsule-submit status at node INDEX says STATE.
state_is() {
    cs "$1" alice status "$2" --json > "$tmp/st.json" 2> /dev/null || true
    [ "$(json "$tmp/st.json" 'j["state"]')" = "$3" ]
}

# executor_named TASK: capsule-submit status at n0 names TASK's executor
# (the status stays in $tmp/exec-st.json).
executor_named() {
    cs 0 alice status "$1" --json > "$tmp/exec-st.json" 2> /dev/null || true
    [ "$(json "$tmp/exec-st.json" '"executor" in j')" = True ]
}

# expect_exit WANT NAME CMD...: runs CMD (stdout to $tmp/NAME.json, stderr
# to $tmp/NAME.err) and fails unless it exits WANT; a failure's JSON
# answer must say so too: {"exit": WANT}, or the task's receipt or refusals.
expect_exit() {
    local want=$1 name=$2 rc
    shift 2
    set +e
    "$@" > "$tmp/$name.json" 2> "$tmp/$name.err"
    rc=$?
    set -e
    cat "$tmp/$name.err"
    [ $rc -eq "$want" ] || { cat "$tmp/$name.json"; mesh_fail "$name: exit $rc, not $want"; }
    [ "$want" -eq 0 ] ||
        [ "$(json "$tmp/$name.json" 'j.get("exit") == '"$want"' or "receipt" in j or "refusals" in j')" = True ] ||
        { cat "$tmp/$name.json"; mesh_fail "$name: the JSON answer does not say why"; }
}

step "a cluster of $N nodes"
mesh_make $N
mesh_genesis mesh-test --param task_grace_ms=3000
for ((i = 0; i < N; i++)); do
    cat > "$tmp/n$i/conf.d/60-capsule.conf" << EOF
capsule
    work_dir = "$work_base-n$i"
EOF
done
for ((i = 0; i < N; i++)); do mesh_start "$i"; done
for ((i = 0; i < N; i++)); do mesh_wait_up "$i"; done
mesh_wait 20 ledger_tips_at_least 2 0 || mesh_fail "no blocks committed"

step "users, lists, code and environment"
cs 0 alice keygen > "$tmp/alice.pub" 2> /dev/null
cs 1 bob keygen > "$tmp/bob.pub" 2> /dev/null
capsule_names_files
sed 's/uniq -d/uniq -u/' "$tmp/intersect.sh" > "$tmp/difference.sh"
printf '#!/bin/sh\nwhile :; do :; done\n' > "$tmp/spin.sh"
env="$tmp/env"
capsule_busybox_env "$env" sh sort uniq cat nc yes head sleep

code=$(cs 0 alice put "$tmp/intersect.sh" --kind code)
envid=$(cs 0 alice put "$env" --kind env)
alice_in=$(cs 0 alice put "$tmp/alice.txt" --allow-code "$code")
bob_in=$(cs 1 bob put "$tmp/bob.txt" --allow-code "$code")
echo "code $code env $envid alice $alice_in bob $bob_in"

step "the intersection task"
set +e
cs 0 alice --code "$code" --entry /code/intersect.sh --env "$envid" \
    --input "$alice_in@n0:alice.txt" --input "$bob_in@n1:bob.txt" \
    --to me --to "$(cat "$tmp/bob.pub")" --time 10s --mem 64M \
    --wait --timeout 40s --out "$tmp/alice-out" --json > "$tmp/task.json" 2> "$tmp/task.err"
rc=$?
set -e
cat "$tmp/task.err"
cat "$tmp/task.json"
[ $rc -eq 0 ] || mesh_fail "the task failed with exit $rc"
result=$(json "$tmp/task.json" 'j["outputs"][0]')
task=$(json "$tmp/task.json" 'j["task"]')
executor=$(json "$tmp/task.json" 'j["executor"]')
cmp "$result" "$tmp/expected.txt" || mesh_fail "alice's result is not the intersection"
echo "executor $executor; alice got: $(tr '\n' ' ' < "$result")"

step "bob opens the result through his node"
rid=$(basename "$result")
bob_result=$(cs 1 bob open "$rid" --from "$executor" --out "$tmp/bob-out")
cmp "$bob_result" "$tmp/expected.txt" || mesh_fail "bob's result is not the intersection"

step "neither key opens the other's input"
set +e
cs 1 alice open "$bob_in" --from n1 --out "$tmp/x" 2> "$tmp/open1.err"
rc1=$?
cs 0 bob open "$alice_in" --from n0 --out "$tmp/y" 2> "$tmp/open2.err"
rc2=$?
set -e
cat "$tmp/open1.err" "$tmp/open2.err"
[ $rc1 -eq 1 ] && [ $rc2 -eq 1 ] || mesh_fail "an owner opened the other's list ($rc1, $rc2)"
grep -q "not one of its recipients" "$tmp/open1.err" || mesh_fail "no reason for the refusal"

step "the receipt is in every ledger"
for ((i = 0; i < N; i++)); do
    mesh_wait 10 receipt_in "$i" "$task" || mesh_fail "n$i has no receipt for $task"
done

step "other code: the holders refuse with the policy reason"
set +e
cs 0 alice --code "$tmp/difference.sh" --env "$envid" \
    --input "$alice_in@n0:alice.txt" --input "$bob_in@n1:bob.txt" --to me \
    --time 10s --wait --timeout 40s --out "$tmp/z" --json > "$tmp/refused.json" 2> "$tmp/refused.err"
rc=$?
set -e
cat "$tmp/refused.err" "$tmp/refused.json"
[ $rc -eq 5 ] || mesh_fail "a task with other code ended with exit $rc, not 5"
json "$tmp/refused.json" 'j["refusals"][0]["code"]' | grep -qx CAPSULE_ERR_POLICY_CODE ||
    mesh_fail "the refusal does not give the policy reason"

step "a limit exceeded shows in the receipt"
set +e
cs 0 alice --code "$tmp/spin.sh" --env "$envid" --to me --time 1s \
    --wait --timeout 40s --out "$tmp/w" --json > "$tmp/spin.json" 2> "$tmp/spin.err"
rc=$?
set -e
cat "$tmp/spin.err" "$tmp/spin.json"
[ $rc -eq 6 ] || mesh_fail "the endless loop ended with exit $rc, not 6"
[ "$(json "$tmp/spin.json" 'j["receipt"]["killed"]')" = wall ] ||
    mesh_fail "the receipt does not say the wall-clock limit killed it"

step "an input only affirming nodes may use: no eligible executor"
strict=$(cs 0 alice put "$tmp/alice.txt" --allow-code "$code" --min-tier affirming)
set +e
cs 0 alice --code "$code" --entry /code/intersect.sh --env "$envid" \
    --input "$strict@n0:alice.txt" --to me --wait --timeout 20s 2> "$tmp/none.err"
rc=$?
set -e
cat "$tmp/none.err"
[ $rc -eq 4 ] || mesh_fail "a task nobody may execute ended with exit $rc, not 4"

step "every other exit status, each with its JSON answer"
expect_exit 2 usage cs 0 alice --env "$envid" --json
[ -n "$(json "$tmp/usage.json" 'j["error"]')" ] || mesh_fail "no error sentence in JSON"
expect_exit 3 unreachable "$SUBMIT" --socket "$tmp/none.sock" --key "$tmp/alice.key" \
    status "$task" --json
expect_exit 7 timeout cs 0 alice --code "$tmp/spin.sh" --env "$envid" --to me --time 2s \
    --wait --timeout 300ms --out "$tmp/t" --json
# an environment that is no archive: the executor gives the task up
badenv=$(cs 0 alice put "$tmp/alice.txt" --kind env)
expect_exit 8 failed cs 0 alice --code "$code" --entry /code/intersect.sh --env "$badenv" \
    --to me --wait --timeout 40s --out "$tmp/f" --json
[ "$(json "$tmp/failed.json" 'j["code"]')" = CAPSULE_ERR_ENV_FORMAT ] ||
    mesh_fail "the failure does not name the environment's reason"
grep -q 'committed: the task failed' "$tmp/failed.err" || mesh_fail "no progress on stderr"

step "escapes: network, the state directory, memory"
"$PY" - "$tmp/port" "$tmp/connections" << 'EOF' &
import os, socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0))
s.listen(8)
s.settimeout(0.2)
open(sys.argv[1] + ".tmp", "w").write(str(s.getsockname()[1]))
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
while True:
    try:
        c, peer = s.accept()
        open(sys.argv[2], "a").write("connection from %s:%d\n" % peer)
        c.close()
    except socket.timeout:
        pass
EOF
listener=$!
mesh_wait 5 test -s "$tmp/port" || mesh_fail "the test's listener did not start"
port=$(cat "$tmp/port")
# the listener counts a connection from the host
"$PY" -c "import socket; socket.create_connection(('127.0.0.1', $port), 2).close()"
mesh_wait 5 test -s "$tmp/connections" || mesh_fail "the listener does not count connections"
: > "$tmp/connections"
printf '#!/bin/sh\nexec nc 127.0.0.1 %s < /dev/null\n' "$port" > "$tmp/net.sh"
{
    echo '#!/bin/sh'
    echo 'for f in \'
    for ((i = 0; i < N; i++)); do
        echo "    $tmp/n$i/keys/curve.key /proc/1/root$tmp/n$i/keys/curve.key $tmp/n$i/ledger.db \\"
    done
    echo '    ; do'
    echo '    if cat "$f" > /tmp/leak 2> /dev/null; then cat /tmp/leak > /out/leak; exit 0; fi'
    echo 'done'
    echo 'exit 3'
} > "$tmp/state.sh"
printf '#!/bin/sh\nx=$(yes | head -c 200000000)\necho ${#x} > /out/n\n' > "$tmp/memhog.sh"
expect_exit 1 net cs 0 alice --code "$tmp/net.sh" --env "$envid" --to me --time 5s \
    --wait --timeout 40s --out "$tmp/net-out" --json
json "$tmp/net.json" 'j["receipt"]'
[ "$(json "$tmp/net.json" 'j["receipt"].get("exit", 0) != 0 or "signal" in j["receipt"]')" = True ] ||
    mesh_fail "the receipt of the network attempt does not show a failure"
sleep 0.5
[ ! -s "$tmp/connections" ] || mesh_fail "the sandbox reached the host: $(cat "$tmp/connections")"
expect_exit 1 state cs 0 alice --code "$tmp/state.sh" --env "$envid" --to me --time 5s \
    --wait --timeout 40s --out "$tmp/state-out" --json
[ "$(json "$tmp/state.json" 'j["receipt"].get("exit")')" = 3 ] ||
    mesh_fail "the state directory attempt did not fail with exit 3"
[ "$(json "$tmp/state.json" 'len(j["outputs"])')" = 0 ] || mesh_fail "something left the sandbox"
set +e
cs 0 alice --code "$tmp/memhog.sh" --env "$envid" --to me --time 10s --mem 32M \
    --wait --timeout 40s --out "$tmp/hog-out" --json > "$tmp/hog.json" 2> "$tmp/hog.err"
rc=$?
set -e
cat "$tmp/hog.err"
json "$tmp/hog.json" 'j["receipt"]'
if [ "$(json "$tmp/hog.json" 'bool(set(j["receipt"]["degraded"]) & {"rlimit-only", "no-cgroup-memory"})')" = True ]; then
    # without a memory cgroup the allocation is refused (RLIMIT_AS) instead
    [ $rc -eq 1 ] || mesh_fail "the memory hog (rlimit only) ended with exit $rc"
else
    [ $rc -eq 6 ] || mesh_fail "the memory hog ended with exit $rc, not 6"
    [ "$(json "$tmp/hog.json" 'j["receipt"]["killed"]')" = memory ] ||
        mesh_fail "the receipt does not say the memory limit killed it"
fi

step "the executor's wardend killed (kill -9) during a task and restarted"
printf '#!/bin/sh\nsleep 3\necho done > /out/done.txt\n' > "$tmp/slow.sh"
slow=$(cs 0 alice --code "$tmp/slow.sh" --env "$envid" --to me --time 20s --json 2> /dev/null |
    "$PY" -c "import json,sys; print(json.load(sys.stdin)['task'])")
mesh_wait 20 executor_named "$slow" || mesh_fail "no executor for the slow task"
victim=$(json "$tmp/exec-st.json" 'j["executor"]')
victim=${victim#n}
mesh_wait 20 state_is "$victim" "$slow" running || mesh_fail "the slow task never ran on n$victim"
sleep 0.5
mesh_kill "$victim"
echo "killed n$victim while it ran the task"
mesh_start "$victim"
mesh_wait_up "$victim"
mesh_wait 40 state_is 0 "$slow" done || mesh_fail "the task did not end after the restart"
for ((i = 0; i < N; i++)); do
    mesh_wait 10 receipt_in "$i" "$slow" || mesh_fail "n$i has no receipt for the slow task"
done
# a few more blocks: a second receipt would be committed by now
h=$(ledger_tip 0)
mesh_wait 10 ledger_tips_at_least $((h + 3)) 0 || mesh_fail "the ledger stopped after the restart"
for ((i = 0; i < N; i++)); do
    [ "$(ledger_receipts "$i" "$slow")" = 1 ] || mesh_fail "n$i holds $(ledger_receipts "$i" "$slow") receipts"
done
cs 0 alice status "$slow" --json > "$tmp/slow.json" || true
[ "$(json "$tmp/slow.json" 'j["receipt"]["exit"]')" = 0 ] || mesh_fail "the re-run did not exit 0"
# it ran twice (killed, then again after the restart), and one receipt came of it
[ "$(grep -c "executes task ${slow:0:8}" "$tmp/n$victim/wardend.log")" = 2 ] ||
    mesh_fail "the restarted executor did not run the task again"

step "an executor lost for good: its deadline passes and another node runs the task"
printf '#!/bin/sh\nsleep 2\necho done > /out/done.txt\n' > "$tmp/lost.sh"
expect_exit 2 allow-node cs 0 alice put "$tmp/lost.sh" --kind code --allow-node n9 --json
grep -q -- "--allow-node: no node 'n9' in this cluster" "$tmp/allow-node.err" ||
    mesh_fail "an unknown --allow-node is not named"
# n0 holds the code and the environment and must stay up: the code's policy
# leaves it out of the executors
lost_code=$(cs 0 alice put "$tmp/lost.sh" --kind code --allow-node n1 --allow-node n2 \
    --allow-node "$(mesh_key 3 sign_pk)")
# the user follows the task with --wait (progress on stderr, "task ID" first)
cs 0 alice --code "$lost_code" --entry /code/lost.sh --env "$envid" --to me --time 4s \
    --wait --timeout 90s --out "$tmp/lost-out" > /dev/null 2> "$tmp/lost-wait.err" &
waiter=$!
mesh_wait 10 grep -q "^task " "$tmp/lost-wait.err" || mesh_fail "no task id from capsule-submit"
lost=$(sed -n 's/^task \([0-9a-f]*\)$/\1/p' "$tmp/lost-wait.err")
mesh_wait 20 executor_named "$lost" || mesh_fail "no executor for the task"
victim=$(json "$tmp/exec-st.json" 'j["executor"]')
victim=${victim#n}
[ "$victim" != 0 ] || mesh_fail "n0 executes a task whose code allows only n1, n2 and n3"
mesh_wait 20 state_is "$victim" "$lost" running || mesh_fail "the task never ran on n$victim"
mesh_kill "$victim"
echo "killed n$victim for good while it ran task ${lost:0:8}"
mesh_wait 60 state_is 0 "$lost" done || {
    cat "$tmp/st.json"
    mesh_fail "the task did not move on from the lost executor"
}
wait "$waiter" || { cat "$tmp/lost-wait.err"; mesh_fail "capsule-submit --wait failed"; }
cat "$tmp/lost-wait.err"
grep -q "the executor missed its deadline; electing another (round 1)" "$tmp/lost-wait.err" ||
    mesh_fail "the user's progress does not say the executor was passed over"
[ "$(cat "$tmp"/lost-out/*)" = done ] || mesh_fail "the user did not get the result"
cs 0 alice status "$lost" --json > "$tmp/lost.json"
cat "$tmp/lost.json"
after=$(json "$tmp/lost.json" 'j["executor"]')
[ "$after" != "n$victim" ] && [ "$after" != n0 ] || mesh_fail "executor $after after n$victim was lost"
[ "$(json "$tmp/lost.json" 'j["receipt"]["exit"]')" = 0 ] || mesh_fail "the new executor's run failed"
grep -q "executor n$victim missed its deadline" "$tmp/n0/wardend.log" ||
    mesh_fail "n0 does not say n$victim missed its deadline"
mesh_start "$victim"
mesh_wait_up "$victim"
mesh_wait 30 receipt_in "$victim" "$lost" || mesh_fail "n$victim did not catch up to the receipt"
h=$(ledger_tip 0)
mesh_wait 10 ledger_tips_at_least $((h + 3)) 0 "$victim" || mesh_fail "the ledger stopped"
for ((i = 0; i < N; i++)); do
    [ "$(ledger_receipts "$i" "$lost")" = 1 ] ||
        mesh_fail "n$i holds $(ledger_receipts "$i" "$lost") receipts for the moved task"
done
! grep -q "task ${lost:0:8} finished; receipt published" "$tmp/n$victim/wardend.log" ||
    mesh_fail "the lost node published a receipt for a task that moved on"
echo "task ${lost:0:8}: n$victim lost, $after ran it; one receipt in every ledger"

mesh_check_logs
step "ok"
