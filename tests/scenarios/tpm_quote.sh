#!/usr/bin/env bash
# Scenario: TPM-quoted self-evidence in real wardend processes on loopback
# (issue 11 item 2).
#   a software TPM (swtpm, Unix sockets in the test's directory) made by
#   swtpm_setup with an EK certificate from a local CA; 4 nodes, one node
#   policy, every node trusting that CA (tpm/ek_ca); n0 runs with the TPM
#   (tpm/tcti) ->
#   n0 binds its AK (its log says so), seals its AK-binding record, and its
#   quoted self-evidence is certified into every ledger: affirming, with a
#   boot claim "affirming" in the verdicts (the nodes without a TPM: boot
#   "none", lower assurance) ->
#   PCR 23 (where n0's measurement log is anchored) is extended behind the
#   engine's back with tpm2_pcrextend through the swtpm socket ->
#   n0's next evidence is contraindicated in every ledger, its verdicts
#   naming "quote-pcr-log"; the other nodes stay affirming; all ledgers
#   agree.
# Usage: tpm_quote.sh WARDEND WARDENCTL
set -euo pipefail
WARDEND=$1
WARDENCTL=$2
N=4
TPMN=0
HERE=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d /tmp/warden-tpm-XXXXXX)
SWTPM_PID=
# shellcheck source=mesh_lib.sh
source "$HERE/mesh_lib.sh"
# shellcheck source=cluster_lib.sh
source "$HERE/cluster_lib.sh"
stop_swtpm() { [ -z "$SWTPM_PID" ] || { kill "$SWTPM_PID" 2> /dev/null || true; wait "$SWTPM_PID" 2> /dev/null || true; }; }
trap 'mesh_cleanup; stop_swtpm; rm -rf "$tmp"' EXIT
step() { echo "--- $* ($SECONDS s)"; }
for tool in swtpm swtpm_setup tpm2_pcrextend; do
    command -v "$tool" > /dev/null || { echo "SKIP: $tool is not installed"; exit 77; }
done

# verdicts AT NODE EXPR: EXPR over node AT's verdicts `v` about NODE's last evidence.
verdicts() {
    "$WARDENCTL" --state "$tmp/n$1" attest node "n$2" --json | "$PY" -c "
import json, sys
v = json.load(sys.stdin)['verdicts']
print($3)"
}

step "a software TPM with an EK certificate from a local CA"
mkdir -p "$tmp/tpm/state" "$tmp/tpm/ca"
cat > "$tmp/tpm/localca.conf" <<EOF
statedir = $tmp/tpm/ca
signingkey = $tmp/tpm/ca/signkey.pem
issuercert = $tmp/tpm/ca/issuercert.pem
certserial = $tmp/tpm/ca/certserial
EOF
cat > "$tmp/tpm/setup.conf" <<EOF
create_certs_tool = /usr/bin/swtpm_localca
create_certs_tool_config = $tmp/tpm/localca.conf
create_certs_tool_options = /etc/swtpm-localca.options
active_pcr_banks = sha256
EOF
swtpm_setup --tpm2 --tpmstate "$tmp/tpm/state" --config "$tmp/tpm/setup.conf" --create-ek-cert \
    --lock-nvram --overwrite > "$tmp/tpm/setup.log" 2>&1 \
    || { cat "$tmp/tpm/setup.log" >&2; mesh_fail "swtpm_setup failed"; }
cat "$tmp/tpm/ca/swtpm-localca-rootca-cert.pem" "$tmp/tpm/ca/issuercert.pem" > "$tmp/ekca.pem"
swtpm socket --tpm2 --tpmstate dir="$tmp/tpm/state" \
    --server type=unixio,path="$tmp/tpm/sock" --ctrl type=unixio,path="$tmp/tpm/sock.ctrl" \
    --flags not-need-init,startup-clear > "$tmp/tpm/swtpm.log" 2>&1 < /dev/null &
SWTPM_PID=$!
for _ in $(seq 100); do [ -S "$tmp/tpm/sock" ] && [ -S "$tmp/tpm/sock.ctrl" ] && break; sleep 0.05; done
[ -S "$tmp/tpm/sock" ] || mesh_fail "swtpm did not start: $(cat "$tmp/tpm/swtpm.log")"
TCTI="swtpm:path=$tmp/tpm/sock"

step "$N nodes with one node policy and the EK issuers; n$TPMN with the TPM"
mesh_make "$N"
mesh_genesis tpm-test --param epoch_blocks=12 --param agree_idle_ms=250
node_policy_write "$tmp/policy.json" "$(readlink -f "$WARDEND")"
for ((i = 0; i < N; i++)); do
    cat > "$tmp/n$i/conf.d/60-attest.conf" <<EOF
attest
    node_policy = "$tmp/policy.json"
tpm
    ek_ca = "$tmp/ekca.pem"
EOF
done
cat >> "$tmp/n$TPMN/conf.d/60-attest.conf" <<EOF
    tcti = "$TCTI"
EOF
for ((i = 0; i < N; i++)); do mesh_start "$i"; done
for ((i = 0; i < N; i++)); do mesh_wait_up "$i"; done
grep -q "tpm: .*AK .* bound; log anchored in PCR 23" "$tmp/n$TPMN/wardend.log" \
    || mesh_fail "n$TPMN did not bind its AK"
grep -q "EK .*(certificate checked)" "$tmp/n$TPMN/wardend.log" \
    || mesh_fail "n$TPMN did not check its EK certificate"

step "n$TPMN's quoted self-evidence is certified into every ledger"
mesh_wait 30 attest_all_affirming || {
    for ((k = 0; k < N; k++)); do echo "n$k: $(attest_tier 0 "$k")" >&2; done
    mesh_fail "self-evidence not certified everywhere"
}
grep -q "AK-binding record .* sealed" "$tmp/n$TPMN/wardend.log" \
    || mesh_fail "n$TPMN sealed no AK-binding record"
for ((i = 0; i < N; i++)); do
    [ "$(verdicts "$i" "$TPMN" "len(v) >= 2 and all(x['boot'] == 'affirming' for x in v)")" = True ] \
        || mesh_fail "n$i: verdicts on n$TPMN without an affirming boot claim: $(verdicts "$i" "$TPMN" v)"
done
[ "$(verdicts 0 1 "len(v) >= 2 and all(x['boot'] == 'none' for x in v)")" = True ] \
    || mesh_fail "verdicts on n1 (no TPM) claim boot: $(verdicts 0 1 v)"

step "PCR 23 of n$TPMN's TPM is extended behind the engine's back"
TPM2TOOLS_TCTI="$TCTI" tpm2_pcrextend \
    23:sha256=0000000000000000000000000000000000000000000000000000000000000bad \
    || mesh_fail "tpm2_pcrextend failed"
mesh_wait 40 attest_tier_everywhere "$TPMN" contraindicated || {
    for ((k = 0; k < N; k++)); do echo "n$k sees n$TPMN: $(attest_tier "$k" "$TPMN")" >&2; done
    mesh_fail "n$TPMN's evidence after the extension is not contraindicated everywhere"
}
[ "$(verdicts 1 "$TPMN" "any('quote-pcr-log' in x['reasons'] and x['boot'] == 'contraindicated' for x in v)")" = True ] \
    || mesh_fail "no verdict names quote-pcr-log: $(verdicts 1 "$TPMN" v)"
for ((k = 1; k < N; k++)); do
    attest_tier_everywhere "$k" affirming || mesh_fail "n$k is no longer affirming"
done
ledger_same "${!MESH_PORTS[@]}" > /dev/null || mesh_fail "ledgers differ"
mesh_check_logs
echo "PASS ($SECONDS s)"
