#!/usr/bin/python3
"""Writes the IMA measurement lists and expected PCR values in this folder.

An implementation of the kernel's IMA list formats that shares nothing with
attest/attest_ima.c (Python standard library only), written from the
kernel's behaviour as docs/PROTOCOL.md "Measurement log and IMA" describes
it:

  * template data: `ima` = SHA-1 digest || name NUL-padded to 256 bytes;
    the others = length-prefixed fields (u32 little-endian), d-ng being
    "<algo>:" NUL digest and n-ng the name with its NUL;
  * template hash = SHA-1(template data), all zero for a violation;
  * binary record = pcr u32 || template hash (20) || u32 name length ||
    template name || [u32 data length, except `ima`] || template data,
    where `ima` writes its data as digest || u32 strlen(name) || name;
  * ASCII line = "%2d " pcr, hex template hash, template name, then each
    field after a space (hex for digests, signatures and buffers, the name
    as is), and a newline;
  * PCR replay per bank: r = H(r || v) with v = SHA-1 template hash for the
    SHA-1 bank, SHA-256(template data) for the SHA-256 bank (kernels >= 5.8)
    or the SHA-1 template hash zero-padded to 32 bytes (older kernels), and
    v = all 0xFF for a violation.

Generated lists (gen-*) come in both forms; the real ASCII lists (real-*,
see README.md) get a binary twin rebuilt from their fields. Every template
hash is checked here too, and expected.txt gets the register values.

  make_ima_lists.py           write the files next to this script
  make_ima_lists.py --check   exit 1 unless the files on disk match
"""

import hashlib
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DIGEST_LEN = {"sha1": 20, "sha256": 32, "sha384": 48, "sha512": 64}


class Entry:
    def __init__(self, pcr, template, digest_alg, digest, name, extra=None, violation=False):
        self.pcr = pcr
        self.template = template
        self.digest_alg = digest_alg
        self.digest = digest
        self.name = name  # bytes, no NUL
        self.extra = extra  # signature or buffer bytes (ima-sig, ima-buf)
        self.violation = violation
        assert len(digest) == DIGEST_LEN[digest_alg]

    def data(self):
        if self.template == "ima":
            assert self.digest_alg == "sha1" and len(self.name) <= 255
            return self.digest + self.name + bytes(256 - len(self.name))
        d = self.digest_alg.encode() + b":\x00" + self.digest
        out = struct.pack("<I", len(d)) + d
        n = self.name + b"\x00"
        out += struct.pack("<I", len(n)) + n
        if self.template in ("ima-sig", "ima-buf"):
            x = self.extra or b""
            out += struct.pack("<I", len(x)) + x
        return out

    def template_hash(self):
        return bytes(20) if self.violation else hashlib.sha1(self.data()).digest()

    def binary(self):
        t = self.template.encode()
        out = struct.pack("<I", self.pcr) + self.template_hash() + struct.pack("<I", len(t)) + t
        if self.template == "ima":
            return out + self.digest + struct.pack("<I", len(self.name)) + self.name
        d = self.data()
        return out + struct.pack("<I", len(d)) + d

    def ascii(self):
        fields = [b"%2d" % self.pcr, self.template_hash().hex().encode(), self.template.encode()]
        if self.template == "ima":
            fields.append(self.digest.hex().encode())
        else:
            fields.append(self.digest_alg.encode() + b":" + self.digest.hex().encode())
        fields.append(self.name)
        if self.template in ("ima-sig", "ima-buf"):
            fields.append((self.extra or b"").hex().encode())
        return b" ".join(fields) + b"\n"


def replay(entries, pcr):
    """SHA-1 bank, SHA-256 bank, SHA-256 bank of a pre-5.8 kernel."""
    r1, r256, r256p = bytes(20), bytes(32), bytes(32)
    for e in entries:
        if e.pcr != pcr:
            continue
        if e.violation:
            v1, v256, v256p = b"\xff" * 20, b"\xff" * 32, b"\xff" * 32
        else:
            v1 = e.template_hash()
            v256 = hashlib.sha256(e.data()).digest()
            v256p = v1 + bytes(12)
        r1 = hashlib.sha1(r1 + v1).digest()
        r256 = hashlib.sha256(r256 + v256).digest()
        r256p = hashlib.sha256(r256p + v256p).digest()
    return r1, r256, r256p


def det(label, n):
    """n deterministic bytes named by label."""
    out = b""
    counter = 0
    while len(out) < n:
        out += hashlib.sha512(b"warden-ima-vectors/%s/%d" % (label.encode(), counter)).digest()
        counter += 1
    return out[:n]


def fake_sig(label, size):
    # signature_v2_hdr: type 3, version 2, hash algo 4 (sha256), key id, size
    body = det("sig/" + label, size)
    return bytes([3, 2, 4]) + det("keyid/" + label, 4) + struct.pack(">H", size) + body


def gen_ng_sha256():
    es = [Entry(10, "ima-ng", "sha256", det("boot", 32), b"boot_aggregate")]
    for i in range(1, 61):
        name = b"/usr/bin/tool-%03d" % i
        if i in (17, 41):
            es.append(Entry(10, "ima-ng", "sha256", bytes(32), name, violation=True))
        else:
            es.append(Entry(10, "ima-ng", "sha256", det("ng/%d" % i, 32), name))
    return es


def gen_mixed():
    es = [Entry(10, "ima-ng", "sha256", det("mixed/boot", 32), b"boot_aggregate")]
    es.append(Entry(10, "ima", "sha1", det("mixed/ima1", 20), b"/sbin/init"))
    es.append(Entry(10, "ima", "sha1", bytes(20), b"/var/log/wtmp", violation=True))
    es.append(Entry(10, "ima", "sha1", det("mixed/ima2", 20), b"/lib/" + b"x" * 250))
    for alg in ("sha1", "sha256", "sha384", "sha512"):
        es.append(Entry(10, "ima-ng", alg, det("mixed/ng/" + alg, DIGEST_LEN[alg]),
                        b"/usr/lib/lib" + alg.encode() + b".so"))
    es.append(Entry(10, "ima-ng", "sha256", bytes(32), b"/tmp/open-writers", violation=True))
    es.append(Entry(10, "ima-sig", "sha256", det("mixed/sig1", 32), b"/usr/bin/signed",
                    fake_sig("1", 256)))
    es.append(Entry(10, "ima-sig", "sha256", det("mixed/sig2", 32), b"/usr/bin/unsigned"))
    es.append(Entry(10, "ima-sig", "sha512", bytes(64), b"/usr/bin/raced", violation=True))
    es.append(Entry(10, "ima-buf", "sha256",
                    hashlib.sha256(b"root=/dev/vda1 ro quiet").digest(), b"kexec-cmdline",
                    b"root=/dev/vda1 ro quiet"))
    es.append(Entry(10, "ima-buf", "sha256", hashlib.sha256(b"").digest(), b"empty-buffer", b""))
    es.append(Entry(11, "ima-ng", "sha256", det("mixed/pcr11a", 32), b"/opt/app/bin/app"))
    es.append(Entry(9, "ima-ng", "sha256", det("mixed/pcr9", 32), b"/boot/initrd"))
    es.append(Entry(10, "ima-ng", "sha256", det("mixed/utf8", 32), "/opt/café/ünï".encode()))
    es.append(Entry(10, "ima-ng", "sha256", det("mixed/long", 32),
                    b"/srv/" + b"/".join(b"d%03d" % i for i in range(200))))
    es.append(Entry(11, "ima-ng", "sha1", bytes(20), b"/opt/app/data", violation=True))
    es.append(Entry(23, "ima-sig", "sha384", det("mixed/pcr23", 48), b"/last-pcr",
                    fake_sig("23", 72)))
    es.append(Entry(10, "ima-ng", "sha256", det("mixed/last", 32), b"/usr/bin/last"))
    return es


# Warden's own log (attest_log): what a node measuring these buffers under
# these names must write. Spaces in names become '_' as in the kernel.
LOG_SAMPLE = [
    (b"/usr/sbin/wardend", b"\x7fELF wardend stand-in"),
    (b"/etc/warden/warden.conf", b"node\n    name = n1\n"),
    (b"genesis", b"\x82\xa1v\x01"),
    (b"keystore backend", b"file"),
    (b"status", b""),
]


def log_sample():
    return [Entry(10, "ima-ng", "sha256", hashlib.sha256(data).digest(), name.replace(b" ", b"_"))
            for name, data in LOG_SAMPLE]


def parse_ascii(text):
    """Entries of a kernel ASCII list, template hashes checked."""
    es = []
    for number, line in enumerate(text.split(b"\n")[:-1], 1):
        pcr_s, rest = line[:2], line[3:]
        fields = rest.split(b" ")
        thash, template = bytes.fromhex(fields[0].decode()), fields[1].decode()
        if template == "ima":
            alg, digest = "sha1", bytes.fromhex(fields[2].decode())
        else:
            alg, hexd = fields[2].decode().split(":")
            digest = bytes.fromhex(hexd)
        extra = None
        if template in ("ima-sig", "ima-buf"):
            extra = bytes.fromhex(fields[4].decode()) if len(fields) > 4 else b""
        e = Entry(int(pcr_s), template, alg, digest, fields[3], extra,
                  violation=thash == bytes(20))
        assert e.template_hash() == thash, "line %d: template hash" % number
        es.append(e)
    return es


def build():
    """{file name: bytes} for every file this script owns."""
    files = {}
    lists = {}
    for name, es in (("gen-ng-sha256", gen_ng_sha256()), ("gen-mixed", gen_mixed()),
                     ("log-sample", log_sample())):
        files[name + ".ascii"] = b"".join(e.ascii() for e in es)
        files[name + ".bin"] = b"".join(e.binary() for e in es)
        lists[name] = es
    for fn in sorted(os.listdir(HERE)):
        if fn.startswith("real-") and fn.endswith(".ascii"):
            with open(os.path.join(HERE, fn), "rb") as f:
                es = parse_ascii(f.read())
            files[fn[:-6] + ".bin"] = b"".join(e.binary() for e in es)
            lists[fn[:-6]] = es
    lines = [
        "# Expected replay of the lists in this folder, written by make_ima_lists.py.",
        "# <list>.entries is the entry count as 8-byte big-endian hex;",
        "# <list>.pcr<N>.sha1 / .sha256 are the registers after replaying every entry",
        "# for PCR N; .sha256_padded is the SHA-256 bank of a kernel before 5.8.",
    ]
    for name in sorted(lists):
        es = lists[name]
        lines.append("%s.entries=%s" % (name, struct.pack(">Q", len(es)).hex()))
        for pcr in sorted({e.pcr for e in es} | {10}):
            r1, r256, r256p = replay(es, pcr)
            lines.append("%s.pcr%d.sha1=%s" % (name, pcr, r1.hex()))
            lines.append("%s.pcr%d.sha256=%s" % (name, pcr, r256.hex()))
            lines.append("%s.pcr%d.sha256_padded=%s" % (name, pcr, r256p.hex()))
    files["expected.txt"] = ("\n".join(lines) + "\n").encode()
    return files


def main():
    files = build()
    if len(sys.argv) > 1 and sys.argv[1] == "--check":
        stale = []
        for fn, data in sorted(files.items()):
            path = os.path.join(HERE, fn)
            if not os.path.exists(path) or open(path, "rb").read() != data:
                stale.append(fn)
        for fn in stale:
            print("stale or missing: %s" % fn)
        print("%d files checked, %d stale" % (len(files), len(stale)))
        return 1 if stale else 0
    for fn, data in sorted(files.items()):
        with open(os.path.join(HERE, fn), "wb") as f:
            f.write(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
