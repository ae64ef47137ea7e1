#!/usr/bin/env bash
# HTTP boot with a real client (curl) against pxe_http through the
# test-only http_serve, on 127.0.0.1. Plain boot directory: whole files
# (0 bytes to 8 MiB), byte ranges (-r FIRST-LAST, FIRST-, -SUFFIX, past the
# end -> 416, several ranges -> 200 whole), HEAD, 404 for missing files,
# 403 for escapes ('/../etc/passwd' and '%2e%2e' sent as-is, symlinks out of
# the boot directory, directories), 405 for POST/PUT, concurrent downloads;
# every fetched file and every served-file record (SHA-256 of the bytes
# sent) must match the original (sha256sum). Approved image set: the boot
# script carries the attestation endpoint, key and a one-time token that
# the server recorded; the kernel comes back identical; a file outside the
# set and a file changed on disk after verification are refused with their
# named codes (X-Warden-Reason), and a file restored to its approved bytes
# is served again.
# Usage: http_boot.sh HTTP_SERVE
set -euo pipefail
serve=$1
failures=0
fail() {
    echo "FAIL: $*" >&2
    failures=$((failures + 1))
}
command -v curl >/dev/null || { echo "http_boot: curl is missing (scripts/install-deps)" >&2; exit 1; }

dir=$(mktemp -d /tmp/warden-http.XXXXXX)
pid=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT
root=$dir/root
out=$dir/out
mkdir -p "$root/sub/deeper" "$out"
echo "not for the host" >"$dir/outside"
ln -s ../outside "$root/escape"
ln -s "$dir/outside" "$root/absolute"
: >"$root/empty"
printf x >"$root/one"
for n in 1000 100000; do head -c $n /dev/urandom >"$root/f$n"; done
head -c $((8 * 1024 * 1024)) /dev/urandom >"$root/sub/big"
ln -s ../f1000 "$root/sub/inside"

start() { # ARGS...: starts http_serve, sets pid and url
    rm -f "$dir/port"
    "$serve" "$@" >"$dir/port" 2>>"$dir/serve.err" &
    pid=$!
    for _ in $(seq 50); do [ -s "$dir/port" ] && break; sleep 0.1; done
    local port
    port=$(head -1 "$dir/port")
    [ -n "$port" ] || { cat "$dir/serve.err" >&2; exit 1; }
    url=http://127.0.0.1:$port
}
stop() {
    kill "$pid"
    wait "$pid" || fail "http_serve exited with $?"
    pid=
}
sha() { sha256sum "$1" | cut -d' ' -f1; }
# status WANT CURL-ARGS...: the HTTP status must be WANT.
status() {
    local want=$1 got
    shift
    got=$(curl -s -o "$out/body" -w '%{http_code}' "$@") || true
    [ "$got" = "$want" ] || fail "curl $*: status $got, want $want ($(head -c 200 "$out/body"))"
}
# reason WANT-STATUS WANT-CODE CURL-ARGS...: status and X-Warden-Reason.
reason() {
    local want=$1 code=$2 got hdr
    shift 2
    got=$(curl -s -D "$out/hdr" -o "$out/body" -w '%{http_code}' "$@") || true
    hdr=$(tr -d '\r' <"$out/hdr" | sed -n 's/^X-Warden-Reason: //Ip')
    [ "$got" = "$want" ] && [ "$hdr" = "$code" ] ||
        fail "curl $*: $got $hdr, want $want $code"
}

# ---- plain boot directory -------------------------------------------------------------------
start --root "$root" --served "$dir/served.log"

for f in empty one f1000 f100000 sub/big sub/inside; do
    if curl -sS -f -o "$out/w" "$url/$f" && cmp -s "$out/w" "$root/$f"; then
        grep -q "^/$f 200 0 $(stat -L -c %s "$root/$f") $(sha "$root/$f") whole plain " "$dir/served.log" ||
            fail "no served record with the right digest for $f"
    else
        fail "GET $f"
    fi
done

# Ranges: curl -r, compared with the same bytes cut by dd/tail/head.
check_range() { # RANGE EXPECTED-FILE
    if curl -sS -f -r "$1" -o "$out/r" "$url/sub/big" && cmp -s "$out/r" "$2"; then
        :
    else
        fail "range $1"
    fi
}
dd if="$root/sub/big" of="$out/e1" bs=1 skip=10 count=10 status=none
check_range 10-19 "$out/e1"
head -c 1 "$root/sub/big" >"$out/e2"
check_range 0-0 "$out/e2"
tail -c 100 "$root/sub/big" >"$out/e3"
check_range -100 "$out/e3"
tail -c +$((8 * 1024 * 1024 - 4999)) "$root/sub/big" >"$out/e4"
check_range $((8 * 1024 * 1024 - 5000))- "$out/e4"
check_range $((8 * 1024 * 1024 - 5000))-99999999999 "$out/e4"
grep -q "^/sub/big 206 10 10 $(sha "$out/e1") part plain " "$dir/served.log" ||
    fail "no served record for the range 10-19 with its digest"
hdr=$(curl -s -r 10-19 -D - -o /dev/null "$url/sub/big" | tr -d '\r')
grep -q "^Content-Range: bytes 10-19/8388608$" <<<"$hdr" || fail "Content-Range of 10-19: $hdr"
reason 416 PXE_ERR_HTTP_RANGE_UNSATISFIABLE -r 8388608- "$url/sub/big"
reason 416 PXE_ERR_HTTP_RANGE_UNSATISFIABLE -r 0-0 "$url/empty"
reason 416 PXE_ERR_HTTP_RANGE_SYNTAX -H 'Range: bytes=5-2' "$url/sub/big"
hdr=$(curl -s -r 8388608- -D - -o /dev/null "$url/sub/big" | tr -d '\r')
grep -q '^Content-Range: bytes \*/8388608$' <<<"$hdr" || fail "416 without Content-Range: $hdr"
# Several ranges: the whole file with 200.
got=$(curl -s -r 0-1,5-6 -o "$out/m" -w '%{http_code}' "$url/f100000")
[ "$got" = 200 ] && cmp -s "$out/m" "$root/f100000" || fail "multiple ranges: $got"

# HEAD: headers only, with the length.
hdr=$(curl -s -I "$url/f100000" | tr -d '\r')
grep -q '^HTTP/1.1 200' <<<"$hdr" && grep -q '^Content-Length: 100000$' <<<"$hdr" &&
    grep -q '^Accept-Ranges: bytes$' <<<"$hdr" || fail "HEAD: $hdr"

# Missing files, escapes, methods.
reason 404 PXE_ERR_PATH_NOT_FOUND "$url/nothere"
reason 404 PXE_ERR_PATH_NOT_FOUND "$url/sub/nothere"
reason 403 PXE_ERR_PATH_DOTDOT --path-as-is "$url/../etc/passwd"
reason 403 PXE_ERR_PATH_DOTDOT --path-as-is "$url/%2e%2e/outside"
reason 403 PXE_ERR_PATH_DOTDOT --path-as-is "$url/sub/%2E%2E/%2e%2e/outside"
reason 403 PXE_ERR_PATH_DOTDOT --path-as-is "$url/sub/..%2f..%2foutside"
reason 403 PXE_ERR_PATH_ABSOLUTE --path-as-is "$url//etc/passwd"
reason 403 PXE_ERR_PATH_ESCAPE "$url/escape"
reason 403 PXE_ERR_PATH_ESCAPE "$url/absolute"
reason 403 PXE_ERR_PATH_NOT_REGULAR "$url/sub"
reason 405 PXE_ERR_HTTP_METHOD -X POST -d x "$url/f1000"
reason 405 PXE_ERR_HTTP_METHOD -T "$root/one" "$url/new"
[ -e "$root/new" ] && fail "PUT created a file"
grep -q "not for the host" "$out/body" && fail "an escape leaked the outside file"

# Concurrent downloads: identical bytes from every one.
cpids=()
for i in $(seq 8); do
    curl -sS -f -o "$out/c$i" "$url/sub/big" &
    cpids+=($!)
done
for p in "${cpids[@]}"; do wait "$p" || fail "concurrent download failed"; done
want=$(sha "$root/sub/big")
for i in $(seq 8); do [ "$(sha "$out/c$i")" = "$want" ] || fail "concurrent download $i differs"; done
stop
grep -q 'completed=' "$dir/serve.err" || fail "no counters at exit"

# ---- approved image set ---------------------------------------------------------------------
boot=$dir/boot
mkdir -p "$boot"
head -c $((3 * 1024 * 1024)) /dev/urandom >"$boot/vmlinuz"
head -c 700000 /dev/urandom >"$boot/initrd.img"
cp "$boot/vmlinuz" "$dir/vmlinuz.orig"
printf 'not approved\n' >"$boot/extra"
cat >"$boot/boot.ipxe" <<'IPXE'
#!ipxe
kernel {{base_url}}/{{kernel}} {{cmdline}} console=ttyS0
initrd {{base_url}}/{{initrd}}
boot
IPXE
key=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
cat >"$dir/manifest" <<EOF2
# approved boot set (role, name, SHA-256)
script boot.ipxe $(sha "$boot/boot.ipxe")
kernel vmlinuz $(sha "$boot/vmlinuz")
initrd initrd.img $(sha "$boot/initrd.img")
EOF2
: >"$dir/served2.log"
: >"$dir/tokens"
start --root "$boot" --manifest "$dir/manifest" --attest-endpoint tcp://127.0.0.1:7070 \
    --attest-key "$key" --served "$dir/served2.log" --tokens "$dir/tokens"

for i in 1 2; do
    curl -sS -f -o "$out/script$i" "$url/boot.ipxe" || fail "GET boot.ipxe"
done
line=$(grep '^kernel ' "$out/script1" || true)
tok1=$(sed -n 's/.*warden\.token=\([0-9a-f]\{64\}\).*/\1/p' "$out/script1")
tok2=$(sed -n 's/.*warden\.token=\([0-9a-f]\{64\}\).*/\1/p' "$out/script2")
[ "$line" = "kernel $url/vmlinuz warden.server=tcp://127.0.0.1:7070 warden.server_key=$key warden.token=$tok1 console=ttyS0" ] ||
    fail "boot script kernel line: $line"
grep -qx "initrd $url/initrd.img" "$out/script1" || fail "boot script initrd line"
[ -n "$tok1" ] && [ "$tok1" != "$tok2" ] || fail "boot tokens are not fresh per boot: $tok1 $tok2"
grep -q "^$tok1 127.0.0.1$" "$dir/tokens" && grep -q "^$tok2 127.0.0.1$" "$dir/tokens" ||
    fail "issued tokens were not recorded"
grep -q "^/boot.ipxe 200 0 $(stat -c %s "$out/script1") $(sha "$out/script1") whole approved " \
    "$dir/served2.log" || fail "no served record for the generated script"

for f in vmlinuz initrd.img; do
    curl -sS -f -o "$out/i" "$url/$f" && cmp -s "$out/i" "$boot/$f" || fail "GET approved $f"
    grep -q "^/$f 200 0 $(stat -c %s "$boot/$f") $(sha "$boot/$f") whole approved pxe-served proto=http file=/$f client=127.0.0.1 " \
        "$dir/served2.log" || fail "no served record for $f"
done
dd if="$boot/vmlinuz" of="$out/e5" bs=1 skip=1000 count=24 status=none
curl -sS -f -r 1000-1023 -o "$out/r5" "$url/vmlinuz" && cmp -s "$out/r5" "$out/e5" || fail "range of an image"

reason 403 PXE_ERR_IMAGE_UNAPPROVED "$url/extra"
reason 403 PXE_ERR_PATH_DOTDOT --path-as-is "$url/%2e%2e/manifest"

# Changed on disk after verification: refused, never the new bytes; back
# to the approved bytes: served again.
head -c 100 /dev/urandom | dd of="$boot/vmlinuz" bs=100 seek=1 conv=notrunc status=none
reason 403 PXE_ERR_IMAGE_DIGEST "$url/vmlinuz"
reason 403 PXE_ERR_IMAGE_DIGEST -r 0-10 "$url/vmlinuz"
cp "$dir/vmlinuz.orig" "$boot/vmlinuz.new" && mv "$boot/vmlinuz.new" "$boot/vmlinuz"
curl -sS -f -o "$out/i2" "$url/vmlinuz" && cmp -s "$out/i2" "$dir/vmlinuz.orig" ||
    fail "restored kernel not served again"
rm "$boot/initrd.img"
reason 404 PXE_ERR_IMAGE_MISSING "$url/initrd.img"
stop
grep -q "image vmlinuz (kernel) refused: .*PXE_ERR_IMAGE_DIGEST" "$dir/serve.err" ||
    fail "the digest mismatch was not logged"

if [ $failures -ne 0 ]; then
    echo "http_boot: $failures failure(s)" >&2
    sed -n '1,40p' "$dir/serve.err" >&2
    exit 1
fi
echo "http_boot: ok"
