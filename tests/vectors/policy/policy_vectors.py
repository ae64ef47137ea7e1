#!/usr/bin/python3
"""Independent implementation of Warden's policy object (docs/PROTOCOL.md
"Reference-value policies") in Python, with python3-msgpack and python3-nacl
only. It writes

  warden-sample.json  a generated Keylime runtime policy that uses every
                      section (digests of all four algorithms, a duplicate,
                      a digest allowed for two paths, excludes, keyrings,
                      ima-buf, verification keys), each digest the hash of a
                      short ASCII word so tests can name their preimages;
  policy.txt          the canonical policy bodies, ids and one sealed
                      envelope compiled from the accepted vectors, which the
                      C unit tests (tests/unit/test_attest_policy.c) compare
                      byte for byte.

ctest (vectors.policy_python) re-runs it into a temporary directory and
compares, so the C code, this script and the document cannot drift apart.

Usage: policy_vectors.py OUTDIR            write the two files into OUTDIR
       policy_vectors.py --corpus OUTDIR   also write policy bodies (seeds
                                           for fuzz_attest_policy_object)
"""
import hashlib
import json
import os
import sys

import msgpack
from nacl.signing import SigningKey

HERE = os.path.dirname(os.path.abspath(__file__))
CREATED = 1767225600  # 2026-01-01T00:00:00Z
CHAIN = bytes([0xC4] * 32)
SEED = bytes(range(1, 33))
DIGEST_LENGTHS = {20, 32, 48, 64}  # sha1, sha256, sha384, sha512


def h(alg, word):
    return hashlib.new(alg, word.encode()).hexdigest()


def sample_policy():
    """The generated runtime policy, as Keylime's tooling would write it."""
    return {
        "meta": {"version": 1, "generator": 1, "timestamp": "2026-01-01 00:00:00"},
        "release": 7,
        "digests": {
            "/usr/bin/true": [h("sha256", "true"), h("sha1", "true")],
            "/usr/bin/false": [h("sha256", "false")],
            # unsorted and with a duplicate: the object lists each once, sorted
            "/usr/lib/libc.so.6": [h("sha256", "libc-2"), h("sha256", "libc-1"),
                                   h("sha256", "libc-2")],
            "/usr/bin/sha1-only": [h("sha1", "sha1-only")],
            "/usr/local/bin/true": [h("sha256", "true")],
            "boot_aggregate": ["00" * 32],
            "/opt/app/caf\u00e9": [h("sha384", "caf\u00e9")],
            "/opt/app/big": [h("sha512", "big")],
        },
        "excludes": ["/tmp/.*", "^/var/log/", "/proc/[0-9]+/", "/home/[^/]+/\\.cache/"],
        "keyrings": {".ima": [h("sha256", "ima-key")], ".evm": [h("sha256", "evm-key")]},
        "ima": {"ignored_keyrings": [".builtin_trusted_keys"], "log_hash_alg": "sha256",
                "dm_policy": None},
        "ima-buf": {"selinux-state": [h("sha256", "selinux")],
                    "dm_table_load": [h("sha256", "dm")]},
        "verification-keys": '{"meta": {"version": 1}, "keyids": [], "pubkeys": []}',
    }


def canonical(value):
    """Canonical msgpack: sorted string keys, shortest forms, str and bin
    kept apart (msgpack-python with use_bin_type=True)."""
    def sort(v):
        if isinstance(v, dict):
            return {k: sort(v[k]) for k in sorted(v, key=lambda s: s.encode())}
        if isinstance(v, list):
            return [sort(x) for x in v]
        return v
    return msgpack.packb(sort(value), use_bin_type=True)


def by_bytes(names):
    return sorted(names, key=lambda s: s.encode())


def compile_policy(source, name, created):
    """The policy body for a runtime-policy JSON text (bytes)."""
    doc = json.loads(source)
    digests = []
    for path in by_bytes(doc["digests"]):
        run = {bytes.fromhex(x) for x in doc["digests"][path]}
        assert all(len(d) in DIGEST_LENGTHS for d in run)
        digests.append([path, sorted(run, key=lambda d: (len(d), d))])
    return canonical({
        "created": created,
        "digests": digests,
        "excludes": doc["excludes"],
        "log_hash_alg": doc["ima"]["log_hash_alg"],
        "name": name,
        "not_appraised": {
            "ima-buf": by_bytes(doc["ima-buf"]),
            "keyrings": by_bytes(doc["keyrings"]),
            "verification-keys": doc["verification-keys"] != "",
        },
        "release": doc["release"],
        "source": hashlib.sha256(source).digest(),
        "v": 1,
    })


def seal(key, type_, chain, body):
    digest = hashlib.sha256(b"warden/1\x00" + type_.encode() + b"\x00" + chain + body).digest()
    sig = key.sign(digest).signature
    return canonical({"v": 1, "type": type_, "chain": chain,
                      "from": bytes(key.verify_key), "body": body, "sig": sig})


def main():
    args = sys.argv[1:]
    corpus = args and args[0] == "--corpus"
    if corpus:
        args = args[1:]
    if len(args) != 1:
        sys.exit(__doc__)
    outdir = args[0]
    os.makedirs(outdir, exist_ok=True)

    sample = (json.dumps(sample_policy(), indent=2, ensure_ascii=False) + "\n").encode()
    with open(os.path.join(outdir, "warden-sample.json"), "wb") as f:
        f.write(sample)

    sources = [("keylime", "keylime-runtime-policy.json", "keylime-sign"),
               ("empty", "keylime-runtime-policy-empty.json", "keylime-empty"),
               ("sample", None, "warden-sample")]
    key = SigningKey(SEED)
    lines = ["# Warden policy-object known answers, generated by",
             "# tests/vectors/policy/policy_vectors.py (independent Python",
             "# implementation of docs/PROTOCOL.md with python3-msgpack).",
             "created=%d" % CREATED,
             "chain=%s" % CHAIN.hex(),
             "seed=%s" % SEED.hex(),
             "public_key=%s" % bytes(key.verify_key).hex()]
    bodies = {}
    for tag, filename, name in sources:
        if filename:
            with open(os.path.join(HERE, filename), "rb") as f:
                source = f.read()
        else:
            source = sample
        body = compile_policy(source, name, CREATED)
        bodies[tag] = body
        lines.append("%s_name=%s" % (tag, name.encode().hex()))
        lines.append("%s_source=%s" % (tag, hashlib.sha256(source).hexdigest()))
        lines.append("%s_body=%s" % (tag, body.hex()))
        lines.append("%s_id=%s" % (tag, hashlib.sha256(body).hexdigest()))
    envelope = seal(key, "policy", CHAIN, bodies["sample"])
    lines.append("sample_envelope=%s" % envelope.hex())
    lines.append("sample_envelope_id=%s" % hashlib.sha256(envelope).hexdigest())
    with open(os.path.join(outdir, "policy.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")

    if corpus:
        for tag, body in bodies.items():
            with open(os.path.join(outdir, "body-%s" % tag), "wb") as f:
                f.write(body)


if __name__ == "__main__":
    main()
