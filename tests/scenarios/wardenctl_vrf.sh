#!/usr/bin/env bash
# wardenctl vrf against every RFC 9381 Appendix B.3 example and the Python
# implementation's extra cases (tests/vectors/vrf_rfc9381.txt, vrf.txt):
# prove from the seed on standard input must print the exact pk, pi and
# beta (text and --json), verify must print beta and exit 0, and bad proofs
# must exit 1 naming the exact reason.
# Usage: wardenctl_vrf.sh WARDENCTL VECTORS_DIR
set -euo pipefail
ctl=$1
vectors=$2
failures=0

value() { # FILE NAME -> the hex after NAME=
    sed -n "s/^$2=//p" "$vectors/$1"
}
fail() {
    echo "FAIL: $*" >&2
    failures=$((failures + 1))
}
expect_reason() { # WANT_NAME ARGS... : verify must exit 1 with that reason
    local want=$1 out rc=0
    shift
    out=$("$ctl" vrf verify --json "$@" 2>/dev/null) || rc=$?
    [ "$rc" = 1 ] || { fail "verify $* exited $rc, wanted 1"; return; }
    /usr/bin/python3 -c 'import json,sys; sys.exit(json.load(sys.stdin)["error"] != sys.argv[1])' \
        "$want" <<<"$out" || fail "verify $*: got $out, wanted $want"
}

check_known_answer() { # FILE PREFIX
    local file=$1 p=$2 sk pk alpha pi beta out
    sk=$(value "$file" "$p.sk"); pk=$(value "$file" "$p.pk"); alpha=$(value "$file" "$p.alpha")
    pi=$(value "$file" "$p.pi"); beta=$(value "$file" "$p.beta")
    out=$(echo "$sk" | "$ctl" vrf prove --alpha "$alpha")
    [ "$out" = "$(printf 'pk    %s\npi    %s\nbeta  %s' "$pk" "$pi" "$beta")" ] \
        || fail "$p: prove printed $out"
    out=$(echo "  $sk  " | "$ctl" vrf prove --alpha "$alpha" --json)
    /usr/bin/python3 -c '
import json, sys
got = json.load(sys.stdin)
sys.exit(got != {"pk": sys.argv[1], "pi": sys.argv[2], "beta": sys.argv[3]})' \
        "$pk" "$pi" "$beta" <<<"$out" || fail "$p: prove --json printed $out"
    out=$("$ctl" vrf verify --pk "$pk" --alpha "$alpha" --proof "$pi" --json) \
        || fail "$p: verify exited non-zero"
    /usr/bin/python3 -c 'import json,sys; sys.exit(json.load(sys.stdin)["beta"] != sys.argv[1])' \
        "$beta" <<<"$out" || fail "$p: verify printed $out"
}

for n in 16 17 18; do
    check_known_answer vrf_rfc9381.txt "example$n"
done
for n in 0 1 2 3 4 5 6; do
    check_known_answer vrf.txt "honest$n"
done

pk=$(value vrf_rfc9381.txt example18.pk)
alpha=$(value vrf_rfc9381.txt example18.alpha)
pi=$(value vrf_rfc9381.txt example18.pi)
expect_reason WD_ERR_VRF_INVALID --pk "$pk" --alpha "${alpha}00" --proof "$pi"
expect_reason WD_ERR_VRF_INVALID --pk "$(value vrf_rfc9381.txt example17.pk)" --alpha "$alpha" \
    --proof "$pi"
expect_reason WD_ERR_VRF_PROOF_LENGTH --pk "$pk" --alpha "$alpha" --proof "${pi:0:158}"
expect_reason WD_ERR_VRF_SCALAR_RANGE --pk "$pk" --alpha "$alpha" --proof "${pi:0:96}$(printf 'ff%.0s' {1..32})"
expect_reason WD_ERR_VRF_BAD_GAMMA --pk "$pk" --alpha "$alpha" \
    --proof "$(value vrf.txt not_on_curve)${pi:64}"
expect_reason WD_ERR_VRF_SMALL_ORDER_KEY --pk "$(value vrf.txt small_order.order8)" \
    --alpha "$alpha" --proof "$pi"
expect_reason WD_ERR_VRF_BAD_KEY --pk "$(value vrf.txt noncanonical.y_plus_p)" --alpha "$alpha" \
    --proof "$pi"
expect_reason WD_ERR_VRF_INVALID --pk "$(value vrf.txt torsion_key_reject.pk)" \
    --alpha "$(value vrf.txt torsion_key_reject.alpha)" --proof "$(value vrf.txt torsion_key_reject.pi)"

# Usage errors exit 2: bad hex, a seed that is not 32 bytes, a missing option.
rc=0; echo 00 | "$ctl" vrf prove --alpha "" >/dev/null 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "short seed exited $rc"
rc=0; "$ctl" vrf verify --pk xyz --alpha "" --proof "$pi" >/dev/null 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "bad --pk exited $rc"
rc=0; "$ctl" vrf verify --pk "$pk" --alpha "$alpha" >/dev/null 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "missing --proof exited $rc"

if [ "$failures" -gt 0 ]; then
    echo "wardenctl_vrf: $failures failure(s)" >&2
    exit 1
fi
echo "wardenctl_vrf: all cases passed"
