#!/usr/bin/python3
"""Independent implementation of Warden's evidence and verdict records
(docs/PROTOCOL.md "Evidence and verdicts") in Python, with python3-msgpack
and python3-nacl only. It writes the known answers that
tests/unit/test_attest_evidence.c and test_attest_verdict.c check
(tests/vectors/evidence/evidence.txt); ctest re-runs it and compares, so the
C code, this script and the document cannot drift apart.

Usage: evidence_vectors.py [OUTPUT]          (default: standard output)
       evidence_vectors.py --corpus FUZZDIR  (writes fuzz seeds into
                                              FUZZDIR/attest_evidence/ and
                                              FUZZDIR/attest_verdict/)
"""
import hashlib
import os
import struct
import sys

import msgpack
from nacl.signing import SigningKey

NOW = 1767225600


def canonical(value):
    def sort(v):
        if isinstance(v, dict):
            return {k: sort(v[k]) for k in sorted(v, key=lambda s: s.encode())}
        if isinstance(v, list):
            return [sort(x) for x in v]
        return v
    return msgpack.packb(sort(value), use_bin_type=True)


def seal(key, type_, chain, body):
    digest = hashlib.sha256(b"warden/1\x00" + type_.encode() + b"\x00" + chain + body).digest()
    sig = key.sign(digest).signature
    return canonical({"v": 1, "type": type_, "chain": chain,
                      "from": bytes(key.verify_key), "body": body, "sig": sig})


def ima_ng_record(pcr, name, content):
    """The kernel's binary record of an ima-ng entry with a SHA-256 file
    digest of content, and the values it extends the two banks with."""
    d = b"sha256:\x00" + hashlib.sha256(content).digest()
    n = name.encode() + b"\x00"
    data = struct.pack("<I", len(d)) + d + struct.pack("<I", len(n)) + n
    thash = hashlib.sha1(data).digest()
    rec = (struct.pack("<I", pcr) + thash + struct.pack("<I", 6) + b"ima-ng"
           + struct.pack("<I", len(data)) + data)
    return rec, thash, hashlib.sha256(data).digest()


def log_delta(names, pcr=10):
    records = b""
    sha1 = bytes(20)
    sha256 = bytes(32)
    for name in names:
        rec, v1, v256 = ima_ng_record(pcr, name, name.encode())
        records += rec
        sha1 = hashlib.sha1(sha1 + v1).digest()
        sha256 = hashlib.sha256(sha256 + v256).digest()
    return records, sha1, sha256


def tpm2b(data):
    return struct.pack(">H", len(data)) + data


def quote_field(nonce, pcr10):
    """A TPM quote field (docs/PROTOCOL.md "TPM quote") over PCRs 0-7 and 10
    with nonce as qualifying data, built from the TPM 2.0 Part 2 layouts.
    The AK point and the signature are fixed bytes: the vector checks the
    encoding and the layouts, not ECDSA."""
    ak = (struct.pack(">HHI", 0x0023, 0x000B, 0x00050472) + tpm2b(b"")
          + struct.pack(">HHHHH", 0x0010, 0x0018, 0x000B, 0x0003, 0x0010)
          + tpm2b(bytes([0xA1] * 32)) + tpm2b(bytes([0xB2] * 32)))
    name = b"\x00\x0b" + hashlib.sha256(ak).digest()
    qualified = b"\x00\x0b" + hashlib.sha256(struct.pack(">I", 0x4000000B) + name).digest()
    select = 0x0004FF
    pcrs = [hashlib.sha256(b"pcr%d" % i).digest() for i in range(8)] + [pcr10]
    attest = (struct.pack(">IH", 0xFF544347, 0x8018) + tpm2b(qualified) + tpm2b(nonce)
              + struct.pack(">QIIB", 123456789, 3, 1, 1)            # clockInfo
              + struct.pack(">Q", 0x0001000200030004)               # firmwareVersion
              + struct.pack(">IHB", 1, 0x000B, 3) + bytes([0xFF, 0x04, 0x00])
              + tpm2b(hashlib.sha256(b"".join(pcrs)).digest()))
    return {"ak": ak, "attest": attest, "pcrs": pcrs, "select": select,
            "sig": bytes([0x5A] * 64)}


def epoch_nonce(seed, node_id, prev):
    return hashlib.sha256(seed + node_id + prev).digest()


def main():
    attester = SigningKey(bytes(range(1, 33)))
    verifier = SigningKey(bytes(range(33, 65)))
    node = bytes(attester.verify_key)
    chain = bytes([0xc4] * 32)
    block_seed = bytes([0x5e] * 32)
    prev = bytes(32)

    # Periodic self-evidence: epoch 7, the node's first three entries.
    records, sha1, sha256 = log_delta(["/usr/bin/a", "warden:config", "/etc/app.conf"])
    nonce = epoch_nonce(block_seed, node, prev)
    node_body = canonical({
        "v": 1,
        "attester": node,
        "fresh": {"kind": "epoch", "epoch": 7, "prev": prev},
        "key_protection": "software",
        "log": {"pcr": 10, "start": 0, "offset": 0, "records": records,
                "sha1": sha1, "sha256": sha256},
        "nonce": nonce,
        "subject": {"kind": "node", "node": node},
        "tamper": "clear",
        "time": NOW,
    })
    node_env = seal(attester, "evidence", chain, node_body)
    node_id = hashlib.sha256(node_env).digest()

    # The same self-evidence from a node with a TPM: a quote whose PCR 10 is
    # the log's SHA-256 register.
    quote_body = canonical({**msgpack.unpackb(node_body, raw=False),
                            "quote": quote_field(nonce, sha256)})

    # A failed challenge of the node's host, challenge freshness, no log.
    host_body = canonical({
        "v": 1,
        "attester": node,
        "challenge": {
            "deadline": NOW + 5, "issued": NOW - 5, "nonce": bytes([0x33] * 32),
            "outcome": "fail",
            "items": [
                {"item": "cmdline", "result": "pass"},
                {"item": "file:/usr/bin/ls", "result": "fail", "why": "digest differs"},
                {"item": "modules", "result": "missed"},
            ],
        },
        "fresh": {"kind": "challenge"},
        "key_protection": "software",
        "nonce": bytes([0x44] * 32),
        "subject": {"kind": "host", "node": node, "host": "52:54:00:12:34:56"},
        "tamper": "not-supported",
        "time": NOW,
    })
    host_env = seal(attester, "evidence", chain, host_body)

    # A verdict on the node evidence (policy id given, not computed here).
    verdict_body = canonical({
        "v": 1,
        "claims": {"boot": "affirming", "configuration": "contraindicated",
                   "executables": "affirming", "freshness": "affirming",
                   "key_protection": "none"},
        "evidence": node_id,
        "failures": {"count": 1, "first": [
            {"index": 2, "path": "/etc/app.conf", "reason": "digest-not-allowed"}]},
        "policy": bytes([0x77] * 32),
        "subject": {"kind": "node", "node": node},
        "tier": "contraindicated",
        "time": NOW + 1,
    })
    verdict_env = seal(verifier, "verdict", chain, verdict_body)

    if len(sys.argv) > 2 and sys.argv[1] == "--corpus":
        write_corpus(sys.argv[2], node_body, node_env, host_body, host_env,
                     verdict_body, verdict_env, quote_body)
        return

    out = open(sys.argv[1], "w") if len(sys.argv) > 1 else sys.stdout
    w = out.write
    w("# Warden evidence and verdict known answers, generated by\n")
    w("# tests/vectors/evidence/evidence_vectors.py (independent Python\n")
    w("# implementation of docs/PROTOCOL.md with python3-msgpack and python3-nacl).\n")
    w("attester_seed=%s\n" % bytes(range(1, 33)).hex())
    w("attester=%s\n" % node.hex())
    w("verifier_seed=%s\n" % bytes(range(33, 65)).hex())
    w("verifier=%s\n" % bytes(verifier.verify_key).hex())
    w("chain=%s\n" % chain.hex())
    w("block_seed=%s\n" % block_seed.hex())
    w("epoch_nonce=%s\n" % nonce.hex())
    w("node_records=%s\n" % records.hex())
    w("node_sha1=%s\n" % sha1.hex())
    w("node_sha256=%s\n" % sha256.hex())
    w("node_body=%s\n" % node_body.hex())
    w("node_envelope=%s\n" % node_env.hex())
    w("node_id=%s\n" % node_id.hex())
    w("host_body=%s\n" % host_body.hex())
    w("host_envelope=%s\n" % host_env.hex())
    w("verdict_body=%s\n" % verdict_body.hex())
    w("verdict_envelope=%s\n" % verdict_env.hex())
    w("quote_body=%s\n" % quote_body.hex())


def write_corpus(root, node_body, node_env, host_body, host_env, verdict_body, verdict_env,
                 quote_body):
    def put(name, files):
        d = os.path.join(root, name)
        os.makedirs(d, exist_ok=True)
        for fname, data in files.items():
            with open(os.path.join(d, fname), "wb") as f:
                f.write(data)
    put("attest_evidence", {
        "node-body": node_body, "node-envelope": node_env, "quote-body": quote_body,
        "host-body": host_body, "host-envelope": host_env,
        "truncated-body": node_body[:-1],
        "version-2": host_body[:-1] + b"\x02",
        "not-a-map": b"\x93\x01\x02\x03",
    })
    put("attest_verdict", {
        "verdict-body": verdict_body, "verdict-envelope": verdict_env,
        "truncated-body": verdict_body[:-1],
        "version-2": verdict_body[:-1] + b"\x02",
        "not-a-map": b"\xa7verdict",
    })


if __name__ == "__main__":
    main()
