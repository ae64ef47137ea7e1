#!/usr/bin/env bash
# wardenctl genesis on real node certificates: create from four `wardenctl
# init` nodes, show must agree with the file (chain id = SHA-256 of its
# bytes), the order of --node options must not change the bytes, and every
# refusal must name its reason with the documented exit status.
# Usage: wardenctl_genesis.sh WARDENCTL
set -euo pipefail
ctl=$1
tmp=$(mktemp -d /tmp/warden-genesis-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() {
    echo "FAIL: $*" >&2
    failures=$((failures + 1))
}
json() { /usr/bin/python3 -c "import json,sys; j=json.load(open(sys.argv[1])); print($2)" "$1"; }
expect() { # WANT_RC PATTERN ARGS...: wardenctl must exit WANT_RC and print PATTERN on stderr
    local want=$1 pattern=$2 rc=0
    shift 2
    "$ctl" "$@" > /dev/null 2> "$tmp/err" || rc=$?
    [ "$rc" = "$want" ] && grep -q -- "$pattern" "$tmp/err" \
        || fail "$*: rc $rc, wanted $want and '$pattern': $(cat "$tmp/err")"
}

for n in a b c d; do
    "$ctl" init --state "$tmp/$n" --name "node-$n" > /dev/null
done
signer=$(/usr/bin/python3 -c 'print("3d" * 32)')

echo "--- create and show agree; the chain id is SHA-256 of the file"
"$ctl" genesis create --name lab --created 1767225600 --signer "$signer" --param verifiers=5 \
    --node "$tmp/a/node.cert" --node "$tmp/b/node.cert" --node "$tmp/c/node.cert" \
    --node "$tmp/d/node.cert" --out "$tmp/genesis" --json > "$tmp/create.json"
"$ctl" genesis show "$tmp/genesis" --json > "$tmp/show.json"
cmp -s "$tmp/create.json" "$tmp/show.json" || fail "create and show print different things"
[ "$(json "$tmp/show.json" "j['chain_id']")" = "$(sha256sum < "$tmp/genesis" | cut -c1-64)" ] \
    || fail "chain id is not SHA-256 of the file"
[ "$(json "$tmp/show.json" "(len(j['nodes']), j['params']['verifiers'], j['signers'])")" \
    = "(4, 5, ['$signer'])" ] || fail "show: $(cat "$tmp/show.json")"
[ "$(json "$tmp/show.json" "[n['id'] for n in j['nodes']] == sorted(n['id'] for n in j['nodes'])")" \
    = True ] || fail "nodes are not in ascending id order"
"$ctl" --state "$tmp/a" keys show --json > "$tmp/keys.json"
[ "$(json "$tmp/show.json" "[n for n in j['nodes'] if n['name']=='node-a'][0]['curve_pk']")" \
    = "$(json "$tmp/keys.json" "j['curve_pk']")" ] || fail "node-a's CURVE key differs from keys show"
"$ctl" genesis show "$tmp/genesis" | grep -q "verifiers  *5  (changed)" || fail "text show"

echo "--- the same genesis from another order of options is the same file"
"$ctl" genesis create --name lab --created 1767225600 --param verifiers=5 --signer "$signer" \
    --node "$tmp/d/node.cert" --node "$tmp/c/node.cert" --node "$tmp/a/node.cert" \
    --node "$tmp/b/node.cert" --out "$tmp/again" > /dev/null
cmp -s "$tmp/genesis" "$tmp/again" || fail "option order changed the genesis"

echo "--- refusals name their reason"
expect 2 "exists (use --force)" genesis create --name lab --node "$tmp/a/node.cert" \
    --out "$tmp/genesis"
expect 2 "WD_ERR_GENESIS_DUPLICATE" genesis create --name lab --node "$tmp/a/node.cert" \
    --node "$tmp/a/node.cert" --out "$tmp/x"
expect 2 "no chain parameter 'nope'" genesis create --name lab --node "$tmp/a/node.cert" \
    --param nope=1 --out "$tmp/x"
expect 2 "verifiers must be an integer in \[1, 64\], not '65'" genesis create --name lab \
    --node "$tmp/a/node.cert" --param verifiers=65 --out "$tmp/x"
expect 2 "is not 64 hex digits" genesis create --name lab --node "$tmp/a/node.cert" \
    --signer abc --out "$tmp/x"
expect 2 "\[A-Za-z0-9._-\]" genesis create --name "has space" --node "$tmp/a/node.cert" \
    --out "$tmp/x"
printf 'not a certificate' > "$tmp/junk.cert"
expect 2 "node $tmp/junk.cert: " genesis create --name lab --node "$tmp/junk.cert" --out "$tmp/x"
[ ! -e "$tmp/x" ] || fail "a refused create left a file behind"
head -c -1 "$tmp/genesis" > "$tmp/short"
expect 1 "WD_ERR_TRUNCATED" genesis show "$tmp/short"
expect 2 "no such file" genesis show "$tmp/missing"
"$ctl" genesis params --json > "$tmp/params.json"
[ "$(json "$tmp/params.json" "[p['default'] for p in j if p['name']=='verifiers'][0]")" = 6 ] \
    || fail "params --json"

[ "$failures" = 0 ] || exit 1
echo "wardenctl_genesis: all checks passed"
