# Shell helpers of the pxe scenarios (pxe_node.sh, tests/qemu/pxe_boot.sh);
# sourced, not run. The caller sets $tmp and may list files to show on
# failure in FAIL_LOGS (their last 60 lines, control-client chatter left out).
PY=/usr/bin/python3
FAIL_LOGS=()

step() { echo "--- $(date +%T) $*"; }
fail() {
    echo "FAIL: $*" >&2
    local f
    for f in "${FAIL_LOGS[@]}"; do
        [ -f "$f" ] && grep -v "control client" "$f" | tail -n 60 | sed "s|^|  $(basename "$f"): |" >&2
    done
    exit 1
}
# json FILE EXPR: a Python expression over the parsed JSON `j`.
json() { "$PY" -c "import json,sys; j=json.load(open(sys.argv[1])); print($2)" "$1"; }
# until_ok SECONDS CMD...: retries CMD every 100 ms until it succeeds.
until_ok() {
    local deadline=$((SECONDS + $1))
    shift
    until "$@" >/dev/null 2>&1; do
        [ $SECONDS -lt $deadline ] || return 1
        sleep 0.1
    done
}
sha() { sha256sum "$1" | cut -d' ' -f1; }
# need TOOL...: fails (not skips) when a tool scripts/install-deps installs is missing.
need() {
    local t
    for t in "$@"; do
        command -v "$t" >/dev/null || { echo "$(basename "$0"): $t is missing (scripts/install-deps)" >&2; exit 1; }
    done
}
# netns_or_skip NAME: creates a network namespace, or exits 77 (ctest SKIP)
# when this machine cannot: the one reason these tests skip.
netns_or_skip() {
    ip netns add "$1" 2>/dev/null && return 0
    echo "$(basename "$0"): cannot create network namespaces here: skipped" >&2
    exit 77
}
