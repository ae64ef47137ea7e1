#!/usr/bin/env bash
# Scenario: the real wardend with pxe/enable = true on a veth link between
# two network namespaces created here. The root parent binds DHCP 67,
# TFTP 69 and HTTP 8080 and hands them to the seccomp-filtered pxe child.
# Real clients: busybox udhcpc (as iPXE) gets its reserved address and the
# boot script URL; curl fetches over TFTP (two block sizes) and HTTP and
# gets the approved bytes; an unapproved file and a file changed on disk
# after verification are refused on both; every completed transfer is in
# `wardenctl pxe served` with its digest and in <state>/measurements.bin
# as pxe:<mac>:<file>; `wardenctl pxe status|leases` answer; the pxe child
# is restarted after kill -9 and serves again; `wardend pxe` runs the boot
# server alone. Exits 77 (ctest SKIP) only when network namespaces cannot
# be created.
# Usage: pxe_node.sh WARDEND WARDENCTL
set -euo pipefail
WARDEND=$1
WARDENCTL=$2
# shellcheck source=pxe_lib.sh
. "$(dirname "$0")/pxe_lib.sh"
need busybox curl ip sha256sum

tag=wp$$
srv=$tag-srv
cli=$tag-cli
vs=${tag}s
vc=${tag}c
netns_or_skip "$srv"
tmp=$(mktemp -d /tmp/warden-pxe-XXXXXX)
state=$tmp/node
daemon_pid=
cleanup() {
    [ -n "$daemon_pid" ] && kill -KILL "$daemon_pid" 2>/dev/null || true
    wait 2>/dev/null || true
    ip netns del "$cli" 2>/dev/null || true
    ip netns del "$srv" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT

FAIL_LOGS=("$tmp/wardend.log")
ctl() { "$WARDENCTL" --state "$state" "$@"; }
inc() { ip netns exec "$cli" "$@"; }

ip netns add "$cli"
ip link add "$vs" type veth peer name "$vc"
ip link set "$vs" netns "$srv"
ip link set "$vc" netns "$cli"
ip -n "$srv" addr add 10.77.0.1/24 dev "$vs"
ip -n "$srv" link set "$vs" up
ip -n "$srv" link set lo up
ip -n "$cli" link set lo up
ip -n "$cli" link set "$vc" address 52:54:00:aa:00:01
ip -n "$cli" link set "$vc" up

step "a node with an approved boot set"
"$WARDENCTL" init --state "$state" --name pxe-a > /dev/null
boot=$state/boot
mkdir -p "$boot"
head -c 300000 /dev/urandom > "$boot/vmlinuz"
head -c 200000 /dev/urandom > "$boot/initrd.img"
head -c 70000 /dev/urandom > "$boot/undionly.kpxe"
echo "not approved" > "$boot/extra.txt"
cat > "$boot/boot.ipxe" <<'EOF'
#!ipxe
kernel {{base_url}}/{{kernel}} {{cmdline}} console=ttyS0
initrd {{base_url}}/{{initrd}}
boot
EOF
cat > "$state/boot.manifest" <<EOF
# role name sha256
script boot.ipxe $(sha "$boot/boot.ipxe")
kernel vmlinuz $(sha "$boot/vmlinuz")
initrd initrd.img $(sha "$boot/initrd.img")
ipxe undionly.kpxe $(sha "$boot/undionly.kpxe")
EOF
mkdir -p "$state/conf.d"
cat > "$state/conf.d/50-pxe.conf" <<EOF
pxe
    enable = "true"
    interface = "$vs"
    address = "10.77.0.1"
    pool = "10.77.0.100-10.77.0.110"
    hosts = "52:54:00:aa:00:01=10.77.0.50=compute1"
    http_port = "8080"
EOF
"$WARDEND" -c "$state/warden.conf" --check-config > /dev/null || fail "check-config"

step "wardend starts its pxe child"
ip netns exec "$srv" "$WARDEND" -c "$state/warden.conf" -l debug 2> "$tmp/wardend.log" &
daemon_pid=$!
until_ok 15 ctl pxe status || fail "wardenctl pxe status never answered"
grep -q "\[pxe\].*boot server on 10.77.0.1" "$tmp/wardend.log" || fail "pxe child did not log its start"
ctl status --json > "$tmp/status.json"
[ "$(json "$tmp/status.json" "[p['state'] for p in j['processes'] if p['name']=='pxe'][0]")" = running ] \
    || fail "pxe not running in wardenctl status"

step "udhcpc as iPXE gets its reserved address and the boot script URL"
cat > "$tmp/udhcpc.sh" <<EOF
#!/bin/sh
[ "\$1" = bound ] && env | sort > "$tmp/udhcpc.env"
exit 0
EOF
chmod +x "$tmp/udhcpc.sh"
inc busybox udhcpc -f -q -n -t 5 -T 1 -A 1 -i "$vc" -s "$tmp/udhcpc.sh" \
    -V PXEClient:Arch:00000:UNDI:002001 -x 0x5d:0000 -x 0x4d:69505845 > "$tmp/udhcpc.log" 2>&1 \
    || fail "udhcpc got no lease: $(cat "$tmp/udhcpc.log")"
envv() { sed -n "s/^$1=//p" "$tmp/udhcpc.env"; }
[ "$(envv ip)" = 10.77.0.50 ] || fail "ip: $(envv ip)"
[ "$(envv bootfile)" = http://10.77.0.1:8080/boot.ipxe ] || fail "bootfile: $(envv bootfile)"
inc ip addr add 10.77.0.50/24 dev "$vc"
until_ok 5 sh -c "'$WARDENCTL' --state '$state' pxe leases --json | grep -q 52:54:00:aa:00:01" \
    || fail "lease not in wardenctl pxe leases"
ctl pxe leases --json > "$tmp/leases.json"
[ "$(json "$tmp/leases.json" "[l['address'] for l in j if l['mac']=='52:54:00:aa:00:01'][0]")" = 10.77.0.50 ] \
    || fail "lease address"
[ "$(json "$tmp/leases.json" "[l['bound'] for l in j if l['mac']=='52:54:00:aa:00:01'][0]")" = True ] \
    || fail "lease not bound"

step "curl fetches the approved files over TFTP and HTTP"
inc curl -sS --fail tftp://10.77.0.1/vmlinuz -o "$tmp/vmlinuz.tftp" || fail "tftp vmlinuz"
cmp "$tmp/vmlinuz.tftp" "$boot/vmlinuz" || fail "tftp vmlinuz bytes differ"
inc curl -sS --fail --tftp-blksize 1468 tftp://10.77.0.1/undionly.kpxe -o "$tmp/undi.tftp" \
    || fail "tftp undionly.kpxe"
cmp "$tmp/undi.tftp" "$boot/undionly.kpxe" || fail "tftp undionly.kpxe bytes differ"
inc curl -sS --fail http://10.77.0.1:8080/initrd.img -o "$tmp/initrd.http" || fail "http initrd"
cmp "$tmp/initrd.http" "$boot/initrd.img" || fail "http initrd bytes differ"
inc curl -sS --fail http://10.77.0.1:8080/boot.ipxe -o "$tmp/script.http" || fail "http script"
grep -Eq "^kernel http://10.77.0.1:8080/vmlinuz warden.server=tcp://10.77.0.1:7420 warden.server_key=[0-9a-f]{64} warden.token=[0-9a-f]{64} console=ttyS0$" \
    "$tmp/script.http" || fail "boot script: $(cat "$tmp/script.http")"
curve=$(ctl keys show --json | "$PY" -c "import json,sys; print(json.load(sys.stdin)['curve_pk'])")
grep -q "warden.server_key=$curve " "$tmp/script.http" || fail "boot script does not name the node's curve key"

step "an unapproved file and a file changed after verification are refused"
set +e
inc curl -sS --fail tftp://10.77.0.1/extra.txt -o /dev/null 2> "$tmp/err"; rc=$?
set -e
[ $rc != 0 ] || fail "tftp served an unapproved file"
code=$(inc curl -s -o /dev/null -w '%{http_code}' http://10.77.0.1:8080/extra.txt)
[ "$code" = 403 ] || fail "http unapproved: $code"
cp "$boot/vmlinuz" "$tmp/vmlinuz.orig"
printf 'X' | dd of="$boot/vmlinuz" bs=1 seek=1000 conv=notrunc status=none
set +e
inc curl -sS --fail tftp://10.77.0.1/vmlinuz -o /dev/null 2> "$tmp/err"; rc=$?
set -e
[ $rc != 0 ] || fail "tftp served a changed file"
inc curl -s -D "$tmp/headers" -o /dev/null http://10.77.0.1:8080/vmlinuz
grep -q "^HTTP/1.1 403" "$tmp/headers" && grep -q "X-Warden-Reason: PXE_ERR_IMAGE_DIGEST" "$tmp/headers" \
    || fail "http changed file: $(cat "$tmp/headers")"
grep -q "PXE_ERR_IMAGE_DIGEST\|does not match its approved SHA-256" "$tmp/wardend.log" \
    || fail "digest mismatch not logged"
cp "$tmp/vmlinuz.orig" "$boot/vmlinuz"
inc curl -sS --fail http://10.77.0.1:8080/vmlinuz -o "$tmp/vmlinuz.http" || fail "restored vmlinuz"
cmp "$tmp/vmlinuz.http" "$boot/vmlinuz" || fail "restored vmlinuz bytes differ"

step "every completed transfer is a measurement and in wardenctl pxe served"
until_ok 5 sh -c "'$WARDENCTL' --state '$state' pxe served --json | grep -q boot.ipxe" \
    || fail "served records did not arrive"
ctl pxe served --json > "$tmp/served.json"
served_sha() { # served_sha PROTOCOL FILE: the digests recorded
    json "$tmp/served.json" "' '.join(r['sha256'] for r in j if r['protocol']=='$1' and r['file']=='$2')"
}
[ "$(served_sha tftp vmlinuz)" = "$(sha "$boot/vmlinuz")" ] || fail "tftp vmlinuz record: $(served_sha tftp vmlinuz)"
[ "$(served_sha tftp undionly.kpxe)" = "$(sha "$boot/undionly.kpxe")" ] || fail "tftp undionly record"
[ "$(served_sha http initrd.img)" = "$(sha "$boot/initrd.img")" ] || fail "http initrd record"
[ "$(served_sha http boot.ipxe)" = "$(sha "$tmp/script.http")" ] || fail "http script record"
[ "$(json "$tmp/served.json" "set(r['mac'] for r in j)")" = "{'525400aa0001'}" ] || fail "records lack the MAC"
[ "$(json "$tmp/served.json" "all(r['approved'] and r['complete'] and r['client']=='10.77.0.50' for r in j)")" = True ] \
    || fail "records not approved/complete: $(cat "$tmp/served.json")"
[ "$(json "$tmp/served.json" "any(r['file']=='extra.txt' for r in j)")" = False ] || fail "a refusal was recorded"
for f in vmlinuz undionly.kpxe initrd.img boot.ipxe; do
    grep -aq "pxe:52-54-00-aa-00-01:$f" "$state/measurements.bin" || fail "measurements.bin lacks $f"
done
ctl pxe status --json > "$tmp/pxe-status.json"
[ "$(json "$tmp/pxe-status.json" "j['tftp']['completed']")" = 2 ] || fail "tftp completed counter"
[ "$(json "$tmp/pxe-status.json" "j['tftp']['refused']")" = 2 ] || fail "tftp refused counter"
[ "$(json "$tmp/pxe-status.json" "j['http']['forbidden']")" = 2 ] || fail "http forbidden counter"
ctl pxe status | grep -q "^dhcp .*acks=1" || fail "text status: $(ctl pxe status)"
ctl pxe served | grep -q "tftp 10.77.0.50 *vmlinuz 300000 bytes sha256 $(sha "$boot/vmlinuz")" \
    || fail "text served: $(ctl pxe served)"

step "kill -9 of the pxe child: restarted, serving again"
pxe_pid=$(json "$tmp/status.json" "[p['pid'] for p in j['processes'] if p['name']=='pxe'][0]")
kill -KILL "$pxe_pid"
restarted() {
    ctl status --json > "$tmp/status2.json" &&
    [ "$(json "$tmp/status2.json" "[(p['state'],p['restarts']) for p in j['processes'] if p['name']=='pxe'][0]")" = "('running', 1)" ]
}
until_ok 15 restarted || fail "pxe child not restarted"
grep -q "pxe (pid $pxe_pid) killed by signal 9" "$tmp/wardend.log" || fail "kill not logged"
until_ok 5 ctl pxe status || fail "pxe status after restart"
inc curl -sS --fail tftp://10.77.0.1/vmlinuz -o "$tmp/vmlinuz.again" || fail "tftp after restart"
cmp "$tmp/vmlinuz.again" "$boot/vmlinuz" || fail "bytes after restart"
ctl pxe leases --json | grep -q 10.77.0.50 || fail "lease lost across the restart"

step "SIGTERM stops wardend and its pxe child"
kill -TERM "$daemon_pid"
wait "$daemon_pid" || fail "wardend exit status $?"
daemon_pid=
! grep -q "killed by signal 31" "$tmp/wardend.log" || fail "the seccomp filter killed the pxe child"
! grep -q "pxe (pid [0-9]*) killed by signal [^9]\|pxe (pid [0-9]*) exited with status [^0]" "$tmp/wardend.log" \
    || fail "the pxe child did not stop cleanly"

step "wardend pxe runs the boot server alone"
ip netns exec "$srv" "$WARDEND" pxe -c "$state/warden.conf" 2> "$tmp/standalone.log" &
daemon_pid=$!
until_ok 10 inc curl -sS --fail http://10.77.0.1:8080/initrd.img -o "$tmp/initrd.alone" \
    || { cat "$tmp/standalone.log" >&2; fail "standalone http"; }
cmp "$tmp/initrd.alone" "$boot/initrd.img" || fail "standalone bytes"
inc curl -sS --fail tftp://10.77.0.1/vmlinuz -o /dev/null || fail "standalone tftp"
until_ok 5 grep -q "served 52-54-00-aa-00-01\|served pxe:.*vmlinuz over tftp" "$tmp/standalone.log" \
    || { cat "$tmp/standalone.log" >&2; fail "standalone did not log the served file"; }
kill -TERM "$daemon_pid"
wait "$daemon_pid" || { cat "$tmp/standalone.log" >&2; fail "standalone exit status"; }
daemon_pid=
echo "pxe_node: all checks passed"
