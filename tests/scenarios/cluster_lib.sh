# cluster_lib.sh: what the cluster scenarios (ledger_attest.sh,
# tpm_quote.sh, ledger_byzantine.sh, capsule_names.sh) and scripts/demo do
# on top of mesh_lib.sh: a shared node policy, attestation tiers and the
# reputation table as wardenctl shows them, and the seed capsule workload
# (two name lists, the intersection code, a busybox environment).
# Source it after mesh_lib.sh (it uses PY, WARDENCTL, tmp and MESH_COUNT).

# node_policy_write OUT ITEM...: writes the Keylime runtime policy that
# attest/node_policy names, with the SHA-256 of each ITEM's file as its
# reference value; an ITEM is a FILE (named by its path) or NAME=FILE (e.g.
# a boot file the node serves, named as its measurement names it). Per-node
# state (configuration, certificate, genesis, keystore) is not a reference
# value: excluded, with any regex in NODE_POLICY_EXCLUDE (JSON-escaped).
node_policy_write() {
    local out=$1 f name digests="" extra=""
    shift
    for f in "$@"; do
        name=$f
        if [[ $f == *=* ]]; then
            name=${f%%=*}
            f=${f#*=}
        fi
        digests+="${digests:+, }\"$name\": [\"$(sha256sum "$f" | cut -d' ' -f1)\"]"
    done
    [ -z "${NODE_POLICY_EXCLUDE:-}" ] || extra=", \"$NODE_POLICY_EXCLUDE\""
    cat > "$out" << EOF
{"meta": {"version": 1, "generator": 0}, "release": 0,
 "digests": {$digests},
 "excludes": ["^warden:", ".*/node\\\\.cert\$", ".*/genesis\$"$extra], "keyrings": {},
 "ima": {"ignored_keyrings": [], "log_hash_alg": "sha1", "dm_policy": null},
 "ima-buf": {}, "verification-keys": ""}
EOF
}

# attest_tier AT NODE: node NODE's attestation tier in node AT's ledger
# (empty when AT does not answer).
attest_tier() {
    "$WARDENCTL" --state "$tmp/n$1" attest node "n$2" --json 2> /dev/null |
        "$PY" -c 'import json,sys; print(json.load(sys.stdin)["tier"])' || true
}

# attest_tier_everywhere NODE TIER: every node's ledger says TIER for NODE.
attest_tier_everywhere() {
    local i
    for ((i = 0; i < MESH_COUNT; i++)); do
        [ "$(attest_tier "$i" "$1")" = "$2" ] || return 1
    done
}

# attest_all_affirming: every node affirming in every ledger.
attest_all_affirming() {
    local k
    for ((k = 0; k < MESH_COUNT; k++)); do attest_tier_everywhere "$k" affirming || return 1; done
}

# reputation AT EXPR: evaluates EXPR over node AT's reputation table `r`
# (`wardenctl reputation --json`, rows by node name).
reputation() {
    "$WARDENCTL" --state "$tmp/n$1" reputation --json | "$PY" -c "
import json, sys
j = json.load(sys.stdin)
r = {n['name']: n for n in j['nodes']}
print($2)"
}

# capsule_names_files: the seed capsule workload in $tmp: two users' name
# lists (alice.txt, bob.txt), their intersection (expected.txt) and the code
# that computes it (intersect.sh, a busybox sh script).
capsule_names_files() {
    printf '%s\n' carol dave erin frank grace heidi ivan > "$tmp/alice.txt"
    printf '%s\n' bob erin heidi judy mallory ivan trent > "$tmp/bob.txt"
    printf '%s\n' erin heidi ivan > "$tmp/expected.txt"
    cat > "$tmp/intersect.sh" << 'EOF'
#!/bin/sh
# the names common to the two lists under /in
set -e
n=0
for f in /in/*; do
    n=$((n + 1))
    sort -u "$f" > "/tmp/$n"
done
cat /tmp/1 /tmp/2 | sort | uniq -d > /out/common.txt
EOF
}

# capsule_busybox_env DIR TOOL...: a capsule environment in DIR: busybox
# with a link for each TOOL in bin/, and the libraries it links (busybox is
# dynamically linked on Debian).
capsule_busybox_env() {
    local env=$1 tool lib
    shift
    mkdir -p "$env/bin"
    cp /bin/busybox "$env/bin/busybox"
    for tool in "$@"; do ln -s busybox "$env/bin/$tool"; done
    ldd /bin/busybox | grep -o '/[^ ]*' | while read -r lib; do
        mkdir -p "$env$(dirname "$lib")"
        cp -L "$lib" "$env$lib"
    done
}
