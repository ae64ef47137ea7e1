#!/usr/bin/env bash
# Real DHCP clients against pxe_dhcp (through the test-only dhcp_serve) on
# a veth pair between two network namespaces created here: busybox udhcpc
# as a BIOS PXE ROM (reserved address, undionly.kpxe), as x64 UEFI (pool
# address, ipxe.efi) and as iPXE (user class "iPXE": the boot script URL);
# dhclient as a PXE client from the pool; leases persisted across a server
# restart; malformed packets dropped and counted per reason; ProxyDHCP
# offers on 67 and ACKs on 4011 (the packet-level checks use a small
# python3 client). Exits 77 (ctest SKIP) only when network namespaces
# cannot be created.
# Usage: dhcp_clients.sh DHCP_SERVE
set -euo pipefail
serve=$1
failures=0
fail() {
    echo "FAIL: $*" >&2
    failures=$((failures + 1))
}
check() { # check WHAT EXPECTED GOT
    if [ "$2" != "$3" ]; then fail "$1: expected '$2', got '$3'"; else echo "ok: $1 = $3"; fi
}

for tool in busybox dhclient ip /usr/bin/python3; do
    command -v "$tool" >/dev/null || { echo "dhcp_clients: $tool is missing (scripts/install-deps)" >&2; exit 1; }
done

tag=wd$$
srv=$tag-srv
cli=$tag-cli
vs=${tag}s
vc=${tag}c
if ! ip netns add "$srv" 2>/dev/null; then
    echo "dhcp_clients: cannot create network namespaces here: skipped" >&2
    exit 77
fi
dir=$(mktemp -d /tmp/warden-dhcp.XXXXXX)
spid=
cleanup() {
    [ -n "$spid" ] && kill "$spid" 2>/dev/null || true
    for f in "$dir"/*.pid; do [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null || true; done
    wait 2>/dev/null || true
    ip netns del "$cli" 2>/dev/null || true
    ip netns del "$srv" 2>/dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT
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
inc() { ip netns exec "$cli" "$@"; }

mkdir -p "$dir/state"
stats=$dir/stats
start_server() { # extra arguments follow
    : >"$dir/ready"
    ip netns exec "$srv" "$serve" --iface "$vs" --addr 10.77.0.1 --netmask 255.255.255.0 \
        --router 10.77.0.1 --pool 10.77.0.100-10.77.0.110 \
        --host 52:54:00:aa:00:01=10.77.0.50=compute1 \
        --lease-file "$dir/state/leases" --lease-seconds 600 \
        --bios undionly.kpxe --efi ipxe.efi --ipxe http://10.77.0.1:8080/boot.ipxe \
        --stats "$stats" "$@" >"$dir/ready" 2>>"$dir/serve.err" &
    spid=$!
    for _ in $(seq 50); do [ -s "$dir/ready" ] && break; sleep 0.1; done
    [ -s "$dir/ready" ] || { cat "$dir/serve.err" >&2; exit 1; }
}
stop_server() {
    kill "$spid"
    wait "$spid" || fail "dhcp_serve exited with $?"
    spid=
}
stat_of() { # stat_of NAME: a counter from the last stats dump
    awk -v k="$1" '$1 == k { print $2 }' "$stats"
}
dump_stats() {
    rm -f "$stats"
    kill -USR1 "$spid"
    for _ in $(seq 50); do [ -s "$stats" ] && break; sleep 0.1; done
}

# udhcpc's script: the environment of the "bound" event.
cat >"$dir/udhcpc.sh" <<EOF
#!/bin/sh
[ "\$1" = bound ] && env | sort >"$dir/udhcpc.env"
exit 0
EOF
chmod +x "$dir/udhcpc.sh"
udhcpc() { # udhcpc MAC [extra udhcpc options]: prints nothing, leaves udhcpc.env
    local mac=$1
    shift
    rm -f "$dir/udhcpc.env"
    inc ip link set "$vc" address "$mac"
    inc busybox udhcpc -f -q -n -t 4 -T 1 -A 1 -i "$vc" -s "$dir/udhcpc.sh" "$@" \
        >>"$dir/udhcpc.log" 2>&1 || true
}
envv() { # envv NAME: a variable from the last udhcpc bound event
    [ -f "$dir/udhcpc.env" ] && sed -n "s/^$1=//p" "$dir/udhcpc.env" || true
}

start_server

# 1. A BIOS PXE ROM with the reserved MAC.
udhcpc 52:54:00:aa:00:01 -V PXEClient:Arch:00000:UNDI:002001 -x 0x5d:0000 \
    -x 0x61:00000102030405060708090a0b0c0d0e0f
check "reserved ip" 10.77.0.50 "$(envv ip)"
check "reserved boot_file" undionly.kpxe "$(envv boot_file)"
check "reserved bootfile (67)" undionly.kpxe "$(envv bootfile)"
check "reserved tftp (66)" 10.77.0.1 "$(envv tftp)"
check "reserved siaddr" 10.77.0.1 "$(envv siaddr)"
check "reserved serverid" 10.77.0.1 "$(envv serverid)"
check "reserved hostname" compute1 "$(envv hostname)"
check "reserved subnet" 255.255.255.0 "$(envv subnet)"
check "reserved lease" 600 "$(envv lease)"
check "reserved vendor option 43" 060108ff "$(envv opt43)"
check "reserved uuid (97) copied" 00000102030405060708090a0b0c0d0e0f "$(envv opt97)"

# 2. x64 UEFI from the pool.
udhcpc 52:54:00:aa:00:02 -V PXEClient:Arch:00007:UNDI:003016 -x 0x5d:0007
check "uefi ip" 10.77.0.100 "$(envv ip)"
check "uefi bootfile" ipxe.efi "$(envv bootfile)"

# 3. iPXE (user class "iPXE") on the same machine: same address, the script.
udhcpc 52:54:00:aa:00:02 -V PXEClient:Arch:00007:UNDI:003016 -x 0x5d:0007 -x 0x4d:69505845
check "ipxe ip" 10.77.0.100 "$(envv ip)"
check "ipxe bootfile" http://10.77.0.1:8080/boot.ipxe "$(envv bootfile)"

# 4. Not a PXE client: an address, no boot file.
udhcpc 52:54:00:aa:00:05
check "plain ip" 10.77.0.101 "$(envv ip)"
check "plain bootfile" "" "$(envv bootfile)"

# 5. dhclient as a PXE client from the pool.
cat >"$dir/dhclient.conf" <<'EOF'
send vendor-class-identifier "PXEClient:Arch:00000:UNDI:002001";
request subnet-mask, routers, host-name, tftp-server-name, bootfile-name;
timeout 15;
retry 1;
EOF
cat >"$dir/dhclient.sh" <<EOF
#!/bin/sh
case "\$reason" in BOUND|REBOOT|RENEW) env | sort >"$dir/dhclient.env" ;; esac
exit 0
EOF
chmod +x "$dir/dhclient.sh"
inc ip link set "$vc" address 52:54:00:aa:00:03
inc dhclient -1 -v -cf "$dir/dhclient.conf" -lf "$dir/dhclient.leases" -pf "$dir/dhclient.pid" \
    -sf "$dir/dhclient.sh" "$vc" >>"$dir/dhclient.log" 2>&1 || fail "dhclient got no lease"
[ -f "$dir/dhclient.pid" ] && kill "$(cat "$dir/dhclient.pid")" 2>/dev/null && rm -f "$dir/dhclient.pid"
denv() { [ -f "$dir/dhclient.env" ] && sed -n "s/^$1=//p" "$dir/dhclient.env" || true; }
check "dhclient ip" 10.77.0.102 "$(denv new_ip_address)"
check "dhclient filename" undionly.kpxe "$(denv new_filename)"
check "dhclient server_name" 10.77.0.1 "$(denv new_server_name)"
check "dhclient tftp-server-name" 10.77.0.1 "$(denv new_tftp_server_name)"
check "dhclient bootfile-name" undionly.kpxe "$(denv new_bootfile_name)"
check "dhclient lease" 600 "$(denv new_dhcp_lease_time)"
grep -q 'filename "undionly.kpxe"' "$dir/dhclient.leases" || fail "dhclient lease file has no filename"

dump_stats
check "leases bound" 4 "$(stat_of leases)"
check "no drops yet" 0 "$(stat_of malformed)"

# 6. Leases survive a restart: the file holds them, the new server knows them.
for l in "52:54:00:aa:00:01 10.77.0.50" "52:54:00:aa:00:02 10.77.0.100" "52:54:00:aa:00:03 10.77.0.102"; do
    grep -q "^$l " "$dir/state/leases" || fail "lease file lacks $l"
done
stop_server
start_server
dump_stats
check "leases reloaded" 4 "$(stat_of leases)"
grep -q '^lease 52:54:00:aa:00:02 10.77.0.100 bound' "$stats" || fail "reloaded lease of :02 missing"
# Another machine asking for .100 gets a fresh address; the owner gets .100.
udhcpc 52:54:00:aa:00:06 -V PXEClient:Arch:00000:UNDI:002001 -r 10.77.0.100
check "new client after restart" 10.77.0.103 "$(envv ip)"
udhcpc 52:54:00:aa:00:02 -V PXEClient:Arch:00007:UNDI:003016 -x 0x5d:0007
check "owner after restart" 10.77.0.100 "$(envv ip)"

# 7. Malformed packets from a raw python3 client: dropped and counted.
inc ip addr add 10.77.0.200/24 dev "$vc"
cat >"$dir/probe.py" <<'EOF'
# A tiny DHCP client for the packet-level checks: "bad" sends malformed
# packets; "proxy" checks a ProxyDHCP OFFER on 67 and an ACK on 4011.
import socket, struct, sys

IFACE, MODE = sys.argv[1], sys.argv[2]
SERVER = "10.77.0.1"
UUID = bytes(range(17))


def pkt(mtype=1, op=1, arch=0, ciaddr="0.0.0.0", extra=b"", cookie=0x63825363, end=True):
    mac = bytes.fromhex("525400aa0009") + bytes(10)
    h = struct.pack("!BBBBIHH4s4s4s4s16s64s128sI", op, 1, 6, 0, 0x4242, 0, 0x8000,
                    socket.inet_aton(ciaddr), bytes(4), bytes(4), bytes(4), mac, bytes(64),
                    bytes(128), cookie)
    o = bytes([53, 1, mtype])
    o += bytes([60, 32]) + b"PXEClient:Arch:00000:UNDI:002001"
    o += bytes([93, 2]) + struct.pack("!H", arch) + bytes([97, 17]) + UUID + extra
    return h + o + (b"\xff" if end else b"")


def options(data):
    opts, i = {}, 240
    while i < len(data) and data[i] != 255:
        if data[i] == 0:
            i += 1
            continue
        opts[data[i]] = opts.get(data[i], b"") + data[i + 2:i + 2 + data[i + 1]]
        i += 2 + data[i + 1]
    return opts


def sock(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, IFACE.encode())
    s.bind(("0.0.0.0", port))
    s.settimeout(3)
    return s


def expect(what, want, got):
    if want != got:
        print(f"FAIL: {what}: expected {want!r}, got {got!r}")
        sys.exit(1)
    print(f"ok: {what}")


if MODE == "bad":
    s = sock(68)
    good = pkt()
    for p in (good[:200], good[:236] + b"\x63\x82\x53\x64" + good[240:], pkt(op=2),
              pkt(end=False), good[:-4], pkt(extra=bytes([52, 2, 1, 1])),
              pkt(extra=bytes([50, 3, 1, 2, 3])), pkt(mtype=9)):
        s.sendto(p, (SERVER, 67))
    # A good one last: once its answer is here, all were handled.
    s.sendto(pkt(), (SERVER, 67))
    data, _ = s.recvfrom(2048)
    expect("answer after malformed packets", 2, options(data)[53][0])
elif MODE == "proxy":
    s = sock(68)
    s.sendto(pkt(), ("255.255.255.255", 67))
    data, _ = s.recvfrom(2048)
    o = options(data)
    expect("proxy offer type", 2, o[53][0])
    expect("proxy offer yiaddr", "0.0.0.0", socket.inet_ntoa(data[16:20]))
    expect("proxy offer siaddr", SERVER, socket.inet_ntoa(data[20:24]))
    expect("proxy offer 54", SERVER, socket.inet_ntoa(o[54]))
    expect("proxy offer 60", b"PXEClient", o[60])
    expect("proxy offer 43", bytes([6, 1, 8, 255]), o[43])
    expect("proxy offer 67", b"undionly.kpxe", o[67])
    expect("proxy offer 66", b"10.77.0.1", o[66])
    expect("proxy offer 97", UUID, o[97])
    expect("proxy offer has no lease", False, 51 in o or 1 in o)
    t = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    t.bind(("10.77.0.200", 0))
    t.settimeout(3)
    t.sendto(pkt(mtype=3, arch=7, ciaddr="10.77.0.200"), (SERVER, 4011))
    data, src = t.recvfrom(2048)
    o = options(data)
    expect("4011 answer source", (SERVER, 4011), src)
    expect("4011 ack type", 5, o[53][0])
    expect("4011 ack ciaddr", "10.77.0.200", socket.inet_ntoa(data[12:16]))
    expect("4011 ack 67 for x64 UEFI", b"ipxe.efi", o[67])
    expect("4011 ack 60", b"PXEClient", o[60])
EOF
inc /usr/bin/python3 "$dir/probe.py" "$vc" bad || fail "malformed-packet probe"
dump_stats
check "malformed total" 8 "$(stat_of malformed)"
check "drop SHORT" 1 "$(stat_of drop.PXE_ERR_DHCP_SHORT)"
check "drop COOKIE" 1 "$(stat_of drop.PXE_ERR_DHCP_COOKIE)"
check "drop OP" 1 "$(stat_of drop.PXE_ERR_DHCP_OP)"
check "drop NO_END" 1 "$(stat_of drop.PXE_ERR_DHCP_NO_END)"
check "drop OPTION_TRUNCATED" 1 "$(stat_of drop.PXE_ERR_DHCP_OPTION_TRUNCATED)"
check "drop OVERLOAD" 1 "$(stat_of drop.PXE_ERR_DHCP_OVERLOAD)"
check "drop OPTION_LENGTH" 1 "$(stat_of drop.PXE_ERR_DHCP_OPTION_LENGTH)"
check "drop MESSAGE_TYPE" 1 "$(stat_of drop.PXE_ERR_DHCP_MESSAGE_TYPE)"

# dhclient -r sends a RELEASE for its lease: gone from memory and file.
inc ip link set "$vc" address 52:54:00:aa:00:03
inc dhclient -r -v -cf "$dir/dhclient.conf" -lf "$dir/dhclient.leases" -pf "$dir/dhclient.pid" \
    -sf "$dir/dhclient.sh" "$vc" >>"$dir/dhclient.log" 2>&1 || fail "dhclient -r"
dump_stats
check "releases" 1 "$(stat_of releases)"
grep -q '^lease 52:54:00:aa:00:03 ' "$stats" && fail "released lease still listed"
grep -q '10.77.0.102' "$dir/state/leases" && fail "released lease still in the lease file"
stop_server

# 8. ProxyDHCP: no address on 67, the boot file on 67 and 4011.
start_server --proxy --pxe-port 4011
inc /usr/bin/python3 "$dir/probe.py" "$vc" proxy || fail "ProxyDHCP probe"
dump_stats
check "proxy offers" 1 "$(stat_of offers)"
check "proxy acks" 1 "$(stat_of acks)"
check "proxy leases" 0 "$(stat_of leases)"
stop_server

if [ "$failures" -ne 0 ]; then
    echo "--- dhcp_serve" >&2
    cat "$dir/serve.err" >&2
    echo "--- udhcpc" >&2
    tail -40 "$dir/udhcpc.log" >&2
    echo "--- dhclient" >&2
    tail -30 "$dir/dhclient.log" >&2 || true
    echo "dhcp_clients: $failures failure(s)" >&2
    exit 1
fi
echo "dhcp_clients: all passed"
