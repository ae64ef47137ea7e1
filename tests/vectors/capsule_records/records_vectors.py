#!/usr/bin/python3
"""Independent implementation of Warden's capsule task, key release and
receipt records (docs/PROTOCOL.md "Capsule tasks, key release and
receipts") in Python, with python3-msgpack and python3-nacl only. It writes
the known-answer vectors the C unit tests check
(tests/vectors/capsule_records/records.txt): our decoders must accept these
bytes and our encoders must reproduce them. ctest re-runs this script and
compares, so the C code, this script and the document cannot drift apart.

Usage: records_vectors.py [OUTPUT]   (default: standard output)
       records_vectors.py --corpus FUZZDIR   (seed corpora for the fuzz
       harnesses: FUZZDIR/corpus/capsule_{task,release,receipt}/)
"""
import os
import hashlib
import sys

import msgpack
from nacl.signing import SigningKey


def canonical(value):
    """Canonical msgpack: string keys in bytewise order, shortest forms
    (msgpack-python packs integers and lengths shortest), str and bin kept
    apart, None as nil."""
    def sort(v):
        if isinstance(v, dict):
            return {k: sort(v[k]) for k in sorted(v, key=lambda s: s.encode())}
        if isinstance(v, list):
            return [sort(x) for x in v]
        return v
    return msgpack.packb(sort(value), use_bin_type=True)


def digest(type_, chain, body):
    return hashlib.sha256(b"warden/1\x00" + type_.encode() + b"\x00" + chain + body).digest()


def seal(key, type_, chain, body):
    sig = key.sign(digest(type_, chain, body)).signature
    return canonical({"v": 1, "type": type_, "chain": chain,
                      "from": bytes(key.verify_key), "body": body, "sig": sig})


def fill(byte, n=32):
    return bytes([byte] * n)


def main():
    corpus = None
    if len(sys.argv) > 2 and sys.argv[1] == "--corpus":
        corpus = sys.argv[2]
        out = open(os.devnull, "w")
    else:
        out = open(sys.argv[1], "w") if len(sys.argv) > 1 else sys.stdout
    seed = bytes(range(0x41, 0x61))
    key = SigningKey(seed)
    chain = fill(0xc7)

    task = canonical({
        "v": 1,
        "code": fill(0x01),
        "entry": "/code/intersect",
        "env": fill(0x02),
        "inputs": [
            {"holder": fill(0x10), "id": fill(0x11), "name": "names-a.txt"},
            {"holder": fill(0x20), "id": fill(0x21), "name": "names-b.txt"},
        ],
        "limits": {"cpu_ms": 10000, "mem_bytes": 64 << 20, "output_bytes": 1 << 20,
                   "pids": 64, "wall_ms": 10000},
        "nonce": bytes(range(16)),
        "recipients": [fill(0x30), fill(0x31)],
        "submitted": 1767225600123,
    })
    task_env = seal(key, "capsule-task", chain, task)
    task_id = hashlib.sha256(task_env).digest()

    req = canonical({"v": 1, "capsule": fill(0x11), "executor_curve": fill(0x40),
                     "proof": bytes(range(80)), "task": task_id})
    grant = canonical({"v": 1, "capsule": fill(0x11), "task": task_id,
                       "wrap": bytes(range(100, 180))})
    refused = canonical({"v": 1, "capsule": fill(0x21), "task": task_id,
                         "code": -5030, "reason": "executor tier warning is below affirming"})

    receipt = canonical({
        "v": 1,
        "task": task_id,
        "code": fill(0x01),
        "env": fill(0x02),
        "executor_evidence": fill(0x50),
        "exit": {"code": None, "signal": 9, "killed": "wall"},
        "inputs": [fill(0x11), fill(0x21)],
        "outputs": [fill(0x60)],
        "proof": bytes(range(80)),
        "started": 1767225601000,
        "ended": 1767225611000,
        "usage": {"cpu_sys_us": 1200, "cpu_user_us": 9876543,
                  "peak_mem_bytes": 5 << 20, "wall_us": 10000250},
        "degraded": ["rlimit-only"],
    })
    receipt_ok = canonical({
        "v": 1,
        "task": task_id,
        "code": fill(0x01),
        "env": fill(0x02),
        "executor_evidence": bytes(32),
        "exit": {"code": 0, "signal": None, "killed": None},
        "inputs": [fill(0x11), fill(0x21)],
        "outputs": [],
        "proof": bytes(range(80)),
        "started": 1767225601000,
        "ended": 1767225601000,
        "usage": {"cpu_sys_us": 0, "cpu_user_us": 0, "peak_mem_bytes": 0, "wall_us": 0},
        "degraded": [],
    })

    if corpus:
        def put(name, files):
            d = os.path.join(corpus, "corpus", name)
            os.makedirs(d, exist_ok=True)
            for fname, data in files.items():
                with open(os.path.join(d, fname), "wb") as f:
                    f.write(data)
        put("capsule_task", {
            "task-body": task,
            "task-envelope": task_env,
            "version-2": task[:-1] + b"\x02",
            "truncated": task[:-7],
            "not-a-map": canonical([1, 2, 3]),
        })
        put("capsule_release", {
            "req-body": req,
            "req-envelope": seal(key, "capsule-release-req", chain, req),
            "grant-body": grant,
            "grant-envelope": seal(key, "capsule-release", chain, grant),
            "refused-body": refused,
            "refused-envelope": seal(key, "capsule-release-refused", chain, refused),
            "refused-code-0": refused.replace(b"\xd1\xec\x5a", b"\x00"),
        })
        put("capsule_receipt", {
            "killed-body": receipt,
            "killed-envelope": seal(key, "capsule-receipt", chain, receipt),
            "ok-body": receipt_ok,
            "ok-envelope": seal(key, "capsule-receipt", chain, receipt_ok),
            "both-code-and-signal": receipt_ok.replace(b"\xa6signal\xc0", b"\xa6signal\x09"),
            "unknown-kill": receipt.replace(b"\xa4wall", b"\xa4wali"),
        })
        return

    w = out.write
    w("# Warden capsule task / release / receipt known answers, generated by\n")
    w("# tests/vectors/capsule_records/records_vectors.py (independent Python\n")
    w("# implementation of docs/PROTOCOL.md with python3-msgpack and python3-nacl).\n")
    w("seed=%s\n" % seed.hex())
    w("public_key=%s\n" % bytes(key.verify_key).hex())
    w("chain=%s\n" % chain.hex())
    w("task=%s\n" % task.hex())
    w("task_envelope=%s\n" % task_env.hex())
    w("task_id=%s\n" % task_id.hex())
    w("release_req=%s\n" % req.hex())
    w("release_req_envelope=%s\n" % seal(key, "capsule-release-req", chain, req).hex())
    w("release_grant=%s\n" % grant.hex())
    w("release_grant_envelope=%s\n" % seal(key, "capsule-release", chain, grant).hex())
    w("release_refused=%s\n" % refused.hex())
    w("release_refused_envelope=%s\n"
      % seal(key, "capsule-release-refused", chain, refused).hex())
    w("receipt_killed=%s\n" % receipt.hex())
    w("receipt_killed_envelope=%s\n" % seal(key, "capsule-receipt", chain, receipt).hex())
    w("receipt_ok=%s\n" % receipt_ok.hex())
    w("receipt_ok_envelope=%s\n" % seal(key, "capsule-receipt", chain, receipt_ok).hex())


if __name__ == "__main__":
    main()
