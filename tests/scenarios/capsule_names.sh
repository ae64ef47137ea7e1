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
#   refused at once: no eligible executor (exit 4).
# Usage: capsule_names.sh WARDEND WARDENCTL CAPSULE_SUBMIT
set -euo pipefail
WARDEND=$1
WARDENCTL=$2
SUBMIT=$3
HERE=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d /tmp/warden-capsule-XXXXXX)
# shellcheck source=mesh_lib.sh
source "$HERE/mesh_lib.sh"
work_base=/dev/shm/$(basename "$tmp")
trap 'mesh_cleanup; rm -rf "$tmp" "$work_base"-n*' EXIT
step() { echo "--- $* ($SECONDS s)"; }
N=3

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

# tip INDEX: the node's ledger height.
tip() {
    "$PY" - "$tmp/n$1/ledger.db" << 'EOF'
import sqlite3, sys
db = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True, timeout=5)
print(db.execute("select coalesce(max(height), 0) from blocks").fetchone()[0])
EOF
}

# receipt_in INDEX TASK: node INDEX's ledger holds a receipt for TASK.
receipt_in() {
    "$PY" - "$tmp/n$1/ledger.db" "$2" << 'EOF'
import msgpack, sqlite3, sys
db = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True, timeout=5)
for (env,) in db.execute("select envelope from records where type = 'capsule-receipt'"):
    if msgpack.unpackb(msgpack.unpackb(env)["body"])["task"].hex() == sys.argv[2]:
        sys.exit(0)
sys.exit(1)
EOF
}

step "a cluster of $N nodes"
mesh_make $N
for ((i = 0; i < N; i++)); do
    cat > "$tmp/n$i/conf.d/60-capsule.conf" << EOF
capsule
    work_dir = "$work_base-n$i"
EOF
done
for ((i = 0; i < N; i++)); do mesh_start "$i"; done
for ((i = 0; i < N; i++)); do mesh_wait_up "$i"; done
tip_at_least() { [ "$(tip "$1" 2> /dev/null || echo 0)" -ge "$2" ]; }
mesh_wait 20 tip_at_least 0 2 || mesh_fail "no blocks committed"

step "users, lists, code and environment"
cs 0 alice keygen > "$tmp/alice.pub" 2> /dev/null
cs 1 bob keygen > "$tmp/bob.pub" 2> /dev/null
printf '%s\n' carol dave erin frank grace heidi ivan > "$tmp/alice.txt"
printf '%s\n' bob erin heidi judy mallory ivan trent > "$tmp/bob.txt"
printf '%s\n' erin heidi ivan > "$tmp/expected.txt"
cat > "$tmp/intersect.sh" << 'EOF'
#!/bin/sh
# the names common to every list under /in
set -e
n=0
for f in /in/*; do
    n=$((n + 1))
    sort -u "$f" > "/tmp/$n"
done
cat /tmp/1 /tmp/2 | sort | uniq -d > /out/common.txt
EOF
sed 's/uniq -d/uniq -u/' "$tmp/intersect.sh" > "$tmp/difference.sh"
printf '#!/bin/sh\nwhile :; do :; done\n' > "$tmp/spin.sh"
env="$tmp/env"
mkdir -p "$env/bin"
cp /bin/busybox "$env/bin/busybox"
for tool in sh sort uniq cat; do ln -s busybox "$env/bin/$tool"; done
# busybox is dynamically linked on Debian: its libraries go along
ldd /bin/busybox | grep -o '/[^ ]*' | while read -r lib; do
    mkdir -p "$env$(dirname "$lib")"
    cp -L "$lib" "$env$lib"
done

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

mesh_check_logs
step "ok"
