#!/usr/bin/env bash
# End-to-end PXE boot: inside a network namespace created here, QEMU
# (software emulation, Debian's iPXE e1000 option ROM) boots over a tap on
# a bridge from a real wardend with pxe/enable and attest/listen:
#   DHCP (reserved address, iPXE gets the script URL) -> boot script over
#   HTTP (a one-time boot token on the kernel command line) -> Debian
#   kernel and an initramfs built here over HTTP -> /init brings up eth0
#   and runs warden-agent, which presents the token to the node's
#   attestation server and answers its challenges.
# Asserts: the host is admitted and passes a challenge in
# `wardenctl attest host --json`; `wardenctl pxe served` and
# <state>/measurements.bin hold the script, kernel and initrd with the
# digests of the approved files and the host's MAC.
# The kernel comes from Debian's linux-image-*-amd64 package, downloaded
# once with apt-get into CACHE_DIR. Exits 77 (ctest SKIP) only when network
# namespaces or tap devices cannot be created here; a missing tool or a
# failed download is a failure (scripts/install-deps installs the tools).
# Usage: pxe_boot.sh WARDEND WARDENCTL WARDEN_AGENT CACHE_DIR
set -euo pipefail
WARDEND=$1
WARDENCTL=$2
AGENT=$3
CACHE=$4
# shellcheck source=../scenarios/pxe_lib.sh
. "$(dirname "$0")/../scenarios/pxe_lib.sh"
# shellcheck source=pxe_host_lib.sh
. "$(dirname "$0")/pxe_host_lib.sh"
ROM=$PXE_HOST_ROM
MAC=52:54:00:12:34:56
BOOT_TIMEOUT=${PXE_BOOT_TIMEOUT:-150}

need qemu-system-x86_64 busybox cpio gzip ip dpkg-deb apt-get apt-cache ldd sha256sum
[ -f "$ROM" ] || { echo "pxe_boot: $ROM is missing (ipxe-qemu; scripts/install-deps)" >&2; exit 1; }

tag=wq$$
ns=$tag
netns_or_skip "$ns"
tmp=$(mktemp -d /tmp/warden-qemu-XXXXXX)
state=$tmp/node
daemon_pid=
qemu_pid=
ra_pid=
cleanup() {
    [ -n "$qemu_pid" ] && kill -KILL "$qemu_pid" 2>/dev/null || true
    [ -n "$ra_pid" ] && kill -KILL "$ra_pid" 2>/dev/null || true
    [ -n "$daemon_pid" ] && kill -TERM "$daemon_pid" 2>/dev/null || true
    wait 2>/dev/null || true
    ip netns del "$ns" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT
FAIL_LOGS=("$tmp/wardend.log" "$tmp/console.log")
ctl() { "$WARDENCTL" --state "$state" "$@"; }
inns() { ip netns exec "$ns" "$@"; }

step "network: a bridge and a tap in namespace $ns"
inns ip link set lo up
inns ip link add br0 type bridge
if ! inns ip tuntap add dev tap0 mode tap 2>/dev/null; then
    echo "pxe_boot: cannot create a tap device here: skipped" >&2
    exit 77
fi
inns ip link set tap0 master br0
inns ip addr add 10.78.0.1/24 dev br0
inns ip link set tap0 up
inns ip link set br0 up

step "kernel from Debian's package (cache: $CACHE)"
kernel=$(pxe_host_kernel "$CACHE") && [ -n "$kernel" ] || fail "no kernel in $CACHE"

step "initramfs: busybox, warden-agent and their libraries"
root=$tmp/initramfs
pxe_host_initramfs "$CACHE" "$AGENT" compute1 "$root" "$tmp/initrd.img"
init_sha=$(sha "$root/init")

step "a node serving the approved boot set, attestation on"
"$WARDENCTL" init --state "$state" --name pxe-q > /dev/null
pxe_host_boot_set "$state" "$kernel" "$tmp/initrd.img"
boot=$state/boot
echo "file /init $init_sha" > "$state/attest.items"
mkdir -p "$state/conf.d"
cat > "$state/conf.d/50-pxe.conf" <<EOF
pxe
    enable = "true"
    interface = "br0"
    address = "10.78.0.1"
    hosts = "$MAC=10.78.0.50=compute1"
    http_port = "8080"
attest
    listen = "tcp://10.78.0.1:7420"
    items = "$state/attest.items"
    interval = "2s"
    deadline = "20s"
EOF
ip netns exec "$ns" "$WARDEND" -c "$state/warden.conf" -l debug 2> "$tmp/wardend.log" &
daemon_pid=$!
until_ok 15 ctl pxe status || fail "the pxe child did not start"

step "QEMU PXE-boots (tcg, iPXE e1000 ROM)"
pxe_host_qemu "$ns" tap0 "$MAC" "$tmp/console.log"
qemu_pid=$PXE_HOST_QEMU_PID
ra_pid=$PXE_HOST_RA_PID
host_ok() {
    ctl attest host --host compute1 --json > "$tmp/host.json" 2>/dev/null &&
    [ "$(json "$tmp/host.json" "[h['admitted'] and h['passed'] >= 1 for h in j['hosts'] if h['host']=='compute1'][0]")" = True ]
}
until_ok "$BOOT_TIMEOUT" host_ok || {
    cat "$tmp/host.json" >&2 2>/dev/null || true
    fail "the booted host was not attested within $BOOT_TIMEOUT s"
}
step "host attested: $(json "$tmp/host.json" "[(h['state'], h['passed']) for h in j['hosts'] if h['host']=='compute1'][0]")"
grep -q "warden-test: init running" "$tmp/console.log" || fail "console lacks /init's line"

step "the served files are measured with the approved digests"
ctl pxe served --json > "$tmp/served.json"
for f in boot.ipxe vmlinuz initrd.img; do
    [ "$(json "$tmp/served.json" "any(r['file']=='$f' and r['protocol']=='http' and r['complete'] and r['mac']=='${MAC//:/}' for r in j)")" = True ] \
        || fail "$f not in wardenctl pxe served: $(cat "$tmp/served.json")"
    grep -aq "pxe:${MAC//:/-}:$f" "$state/measurements.bin" || fail "measurements.bin lacks $f"
done
for f in vmlinuz initrd.img; do
    [ "$(json "$tmp/served.json" "[r['sha256'] for r in j if r['file']=='$f'][-1]")" = "$(sha "$boot/$f")" ] \
        || fail "$f served digest is not the approved one"
done
ctl pxe leases --json > "$tmp/leases.json"
[ "$(json "$tmp/leases.json" "[(l['address'], l['bound']) for l in j if l['mac']=='$MAC'][0]")" = "('10.78.0.50', True)" ] \
    || fail "lease: $(cat "$tmp/leases.json")"

kill -KILL "$qemu_pid" "$ra_pid"
wait "$qemu_pid" "$ra_pid" 2>/dev/null || true
qemu_pid=
ra_pid=
kill -TERM "$daemon_pid"
wait "$daemon_pid" || fail "wardend exit status $?"
daemon_pid=
echo "pxe_boot: host booted, attested and measured in $SECONDS s"
