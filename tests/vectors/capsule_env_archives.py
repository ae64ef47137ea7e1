#!/usr/bin/python3
"""Environment archives for tests/unit/test_capsule_env.c, made with Python's
tarfile module (an implementation independent of libarchive): one good root
file system and one archive per thing capsule_env must refuse.

Usage: capsule_env_archives.py OUTDIR [OUTSIDE]
OUTSIDE is an absolute directory outside the unpack root that the escape
archives aim at (the test checks nothing appears there).
"""
import gzip
import io
import os
import sys
import tarfile


def entry(name, kind=tarfile.REGTYPE, data=b"", mode=0o644, link=""):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.linkname = link
    info.mtime = 1700000000
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    return info, data


def tar_bytes(entries, fmt=tarfile.PAX_FORMAT):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tar:
        for info, data in entries:
            tar.addfile(info, io.BytesIO(data) if info.type == tarfile.REGTYPE else None)
    return buf.getvalue()


def write(outdir, name, data):
    with open(os.path.join(outdir, name), "wb") as f:
        f.write(data)


def good_entries():
    return [
        entry("./", tarfile.DIRTYPE, mode=0o755),
        entry("./bin", tarfile.DIRTYPE, mode=0o755),
        # setuid busybox, as some images ship it: the bit is stripped
        entry("./bin/busybox", data=b"\x7fELF not really busybox\n", mode=0o4755),
        entry("./bin/sh", tarfile.SYMTYPE, link="busybox"),
        entry("./bin/ls", tarfile.SYMTYPE, link="/bin/busybox"),
        entry("./bin/hardsh", tarfile.LNKTYPE, link="./bin/busybox"),
        entry("./etc", tarfile.DIRTYPE, mode=0o755),
        entry("./etc/motd", data=b"hello from the environment\n"),
        entry("./usr/lib/deep/lib.so", data=b"library"),  # parents not listed
        entry("./usr/lib/deep/link", tarfile.SYMTYPE, link="../../../bin/busybox"),
        entry("./" + "d" * 120 + "/" + "f" * 150, data=b"long name (pax path record)"),
        entry("./ro", tarfile.DIRTYPE, mode=0o555),
        entry("./ro/file", data=b"inside a read-only directory", mode=0o444),
        entry("./tmp", tarfile.DIRTYPE, mode=0o1777),
    ]


def main():
    outdir = sys.argv[1]
    outside = sys.argv[2] if len(sys.argv) > 2 else "/tmp/outside"
    os.makedirs(outdir, exist_ok=True)
    good = tar_bytes(good_entries())
    write(outdir, "good.tar", good)
    write(outdir, "good.tar.gz", gzip.compress(good, mtime=0))
    write(outdir, "good-gnu.tar", tar_bytes(good_entries(), tarfile.GNU_FORMAT))
    write(outdir, "empty.tar", b"\0" * 1024)

    bad = {
        "absolute": [entry("/etc/passwd", data=b"x")],
        "dotdot": [entry("a/../../evil", data=b"x")],
        "dotdot-lead": [entry("../evil", data=b"x")],
        "symlink-up": [entry("l", tarfile.SYMTYPE, link="../outside")],
        "symlink-deep-up": [entry("a/b/l", tarfile.SYMTYPE, link="../../../x")],
        "symlink-down-up": [entry("a/l", tarfile.SYMTYPE, link="b/../../../x")],
        "symlink-abs-dotdot": [entry("l", tarfile.SYMTYPE, link="/../etc")],
        # an absolute link is resolved inside the root, but a later entry
        # must never be written through it
        "through-symlink": [
            entry("l", tarfile.SYMTYPE, link=outside),
            entry("l/pwned", data=b"escaped"),
        ],
        "through-file": [entry("f", data=b"x"), entry("f/g", data=b"y")],
        "hardlink-abs": [entry("h", tarfile.LNKTYPE, link="/etc/passwd")],
        "hardlink-up": [entry("h", tarfile.LNKTYPE, link="../x")],
        "hardlink-missing": [entry("h", tarfile.LNKTYPE, link="nothing")],
        "hardlink-symlink": [
            entry("s", tarfile.SYMTYPE, link="/etc/passwd"),
            entry("h", tarfile.LNKTYPE, link="s"),
        ],
        "chardev": [entry("dev/null", tarfile.CHRTYPE)],
        "blockdev": [entry("dev/sda", tarfile.BLKTYPE)],
        "fifo": [entry("fifo", tarfile.FIFOTYPE)],
        "long-path": [entry("a/" * 600 + "x", data=b"x")],
        "long-component": [entry("x" * 300, data=b"x")],
        "duplicate": [entry("a", data=b"1"), entry("a", data=b"2")],
        "dir-over-file": [entry("a", data=b"1"), entry("a", tarfile.DIRTYPE)],
        "many": [entry("f%03d" % i, data=b"x") for i in range(50)],
        "big": [entry("big", data=b"\xab" * (2 * 1024 * 1024))],
        # good entries, then a device: everything made must be removed again
        "late-device": good_entries() + [entry("dev/tty", tarfile.CHRTYPE)],
    }
    for name, entries in bad.items():
        write(outdir, name + ".tar", tar_bytes(entries))

    # A header declaring 8 GiB followed by a few bytes: refused before any
    # data is written.
    info = tarfile.TarInfo("huge")
    info.size = 8 << 30
    write(outdir, "huge-header.tar", info.tobuf(tarfile.PAX_FORMAT) + b"\0" * 512)
    # A good archive cut inside a file's data.
    write(outdir, "truncated.tar", good[: good.index(b"hello from") + 5])
    write(outdir, "not-tar.bin", b"This is not an archive at all.\n" * 40)
    write(outdir, "gzip-not-tar.gz", gzip.compress(b"plain text, no tar inside\n" * 40))


if __name__ == "__main__":
    main()
