# A compute host that PXE-boots from a wardend node in QEMU: the kernel,
# the initramfs (busybox and warden-agent), the node's approved boot set and
# the QEMU command. Sourced by tests/qemu/pxe_boot.sh and scripts/demo, not
# run; the caller defines fail MESSAGE (it must not return) and $PY.
PXE_HOST_ROM=/usr/lib/ipxe/qemu/pxe-e1000.rom

# pxe_host_kernel CACHE: Debian's amd64 kernel and its e1000 module in
# CACHE (downloaded once with apt-get); prints the kernel's path.
pxe_host_kernel() {
    local cache=$1 pkg deb ko
    mkdir -p "$cache"
    if ! ls "$cache"/vmlinuz-* > /dev/null 2>&1; then
        kernel_pkg() {
            apt-cache depends linux-image-amd64 2> /dev/null |
                sed -n 's/^ *Depends: \(linux-image-[0-9].*-amd64\)$/\1/p' | head -1
        }
        pkg=$(kernel_pkg)
        # A machine whose packages were all preinstalled may have no package lists.
        [ -n "$pkg" ] || { apt-get update -qq > /dev/null 2>&1 || true; pkg=$(kernel_pkg); }
        [ -n "$pkg" ] || fail "apt-cache names no linux-image-*-amd64 package"
        (cd "$cache" && apt-get download "$pkg" > "$cache/download.log" 2>&1) ||
            fail "apt-get download $pkg: $(cat "$cache/download.log")"
        deb=$(ls "$cache"/linux-image-*.deb | head -1)
        rm -rf "$cache/unpacked"
        dpkg-deb -x "$deb" "$cache/unpacked"
        cp "$cache"/unpacked/boot/vmlinuz-* "$cache/"
        ko=$(find "$cache/unpacked/lib/modules" -name 'e1000.ko*' | head -1)
        [ -n "$ko" ] || fail "no e1000 module in $deb"
        case "$ko" in
            *.xz) xz -dc "$ko" > "$cache/e1000.ko" ;;
            *) cp "$ko" "$cache/e1000.ko" ;;
        esac
        rm -rf "$cache/unpacked" "$deb"
    fi
    ls "$cache"/vmlinuz-* | head -1
}

# pxe_host_initramfs CACHE AGENT HOST ROOT OUT: an initramfs in OUT whose
# /init loads e1000, takes a DHCP lease and runs warden-agent as HOST (its
# boot token comes on the kernel command line); ROOT is its staging
# directory, left in place so the caller can list measured files.
pxe_host_initramfs() {
    local cache=$1 agent=$2 host=$3 root=$4 out=$5
    mkdir -p "$root"/{bin,sbin,etc,proc,sys,dev,tmp,lib,lib64,usr/bin,usr/sbin,var/run}
    copy_with_libs() { # copy_with_libs BINARY DEST
        cp "$1" "$root/$2"
        ldd "$1" | awk '/=>/ { print $3 } /^\t\/lib/ { print $1 }' | while read -r lib; do
            [ -f "$lib" ] || continue
            mkdir -p "$root$(dirname "$lib")"
            cp -L "$lib" "$root$lib"
        done
    }
    copy_with_libs "$(command -v busybox)" bin/busybox
    copy_with_libs "$agent" bin/warden-agent
    cp "$cache/e1000.ko" "$root/e1000.ko"
    cat > "$root/udhcpc.sh" << 'EOF'
#!/bin/sh
case "$1" in
    bound|renew)
        ip addr add "$ip/${mask:-24}" dev "$interface"
        ;;
esac
exit 0
EOF
    cat > "$root/init" << EOF
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
echo "warden-test: init running"
insmod /e1000.ko
ip link set lo up
ip link set eth0 up
udhcpc -i eth0 -q -n -t 10 -T 1 -s /udhcpc.sh || echo "warden-test: no lease"
echo "warden-test: eth0 \$(ip -4 -o addr show dev eth0)"
/bin/warden-agent --host $host --verbose &
sleep 600
poweroff -f
EOF
    chmod +x "$root/init" "$root/udhcpc.sh"
    (cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) > "$out"
}

# pxe_host_boot_set STATE KERNEL INITRD: the node's approved boot set in
# STATE/boot (an iPXE script, the kernel and the initramfs) and its
# STATE/boot.manifest with their digests.
pxe_host_boot_set() {
    local state=$1 boot=$1/boot
    mkdir -p "$boot"
    cp "$2" "$boot/vmlinuz"
    cp "$3" "$boot/initrd.img"
    cat > "$boot/boot.ipxe" << 'EOF'
#!ipxe
echo warden: booting {{kernel}} for {{client}}
kernel {{base_url}}/{{kernel}} {{cmdline}} console=ttyS0 panic=-1 quiet
initrd {{base_url}}/{{initrd}}
boot
EOF
    cat > "$state/boot.manifest" << EOF
script boot.ipxe $(sha256sum "$boot/boot.ipxe" | cut -d' ' -f1)
kernel vmlinuz $(sha256sum "$boot/vmlinuz" | cut -d' ' -f1)
initrd initrd.img $(sha256sum "$boot/initrd.img" | cut -d' ' -f1)
EOF
}

# pxe_host_qemu NS TAP MAC CONSOLE: boots QEMU (tcg, iPXE e1000 ROM) on TAP
# inside network namespace NS, serial console to the file CONSOLE, in the
# background, QEMU in a process group of its own; sets PXE_HOST_QEMU_PID
# and PXE_HOST_RA_PID (a router advertisement on br0 spares iPXE its ~13 s
# wait for one, NOTES.md).
pxe_host_qemu() {
    local ns=$1 tap=$2 mac=$3 console=$4
    ip netns exec "$ns" "$PY" "$(dirname "${BASH_SOURCE[0]}")/ra_send.py" br0 \
        2> "$console.ra" < /dev/null &
    PXE_HOST_RA_PID=$!
    setsid ip netns exec "$ns" qemu-system-x86_64 -accel tcg -nographic -m 384 -boot n -no-reboot \
        -netdev tap,id=n0,ifname="$tap",script=no,downscript=no \
        -device e1000,netdev=n0,mac="$mac",romfile="$PXE_HOST_ROM" \
        -serial "file:$console" -monitor none > "$console.qemu" 2>&1 < /dev/null &
    PXE_HOST_QEMU_PID=$!
}
