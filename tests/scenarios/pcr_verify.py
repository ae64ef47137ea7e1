#!/usr/bin/env python3
"""The bundle check of docs/OPERATIONS.md "Verifying a bundle with standard
tools", as a program: python3 with PyNaCl and msgpack only, written from
docs/PROTOCOL.md without Warden's C code. Usage: pcr_verify.py BUNDLE
[ORIGINAL]. Prints "OK <name> <sha256>" and exits 0, or prints the failed
step and exits 1. pcr_signer.sh runs it next to warden-verify."""
import base64
import hashlib
import sys

import msgpack
import nacl.exceptions
import nacl.signing


def digest(kind, chain, body):
    """Warden's signing rule: SHA-256("warden/1" 0 type 0 chain body)."""
    return hashlib.sha256(b"warden/1\x00" + kind.encode() + b"\x00" + chain + body).digest()


def check_sig(pk, kind, chain, body, sig, what):
    try:
        nacl.signing.VerifyKey(pk).verify(digest(kind, chain, body), sig)
    except nacl.exceptions.BadSignatureError:
        sys.exit("FAILED: %s signature" % what)


def envelope(raw):
    env = msgpack.unpackb(raw, raw=False)
    assert set(env) == {"body", "chain", "from", "sig", "type", "v"} and env["v"] == 1
    return env


def leaf_hash(data):
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def inclusion_ok(leaf, index, size, proof, root):
    """RFC 9162 section 2.1.3.2."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def main():
    bundle = msgpack.unpackb(open(sys.argv[1], "rb").read(), raw=False)
    assert bundle["type"] == "warden-pcr-bundle" and bundle["v"] == 1
    # 1. the node certificate: a self-signed node-cert envelope
    cert_env = envelope(bundle["cert"])
    cert = msgpack.unpackb(cert_env["body"], raw=False)
    pk = cert["sign_pk"]
    assert cert_env["type"] == "node-cert" and cert_env["from"] == pk
    check_sig(pk, "node-cert", cert_env["chain"], cert_env["body"], cert_env["sig"], "certificate")
    # 2. the statement, signed by the same key
    env = envelope(bundle["envelope"])
    assert env["type"] == "pcr-result" and env["from"] == pk
    check_sig(pk, "pcr-result", env["chain"], env["body"], env["sig"], "statement")
    st = msgpack.unpackb(env["body"], raw=False)
    subject = st["subject"][0]
    want = subject["digest"]["sha256"]
    # 3. the bytes
    for data in [bundle["raw"]] + [open(p, "rb").read() for p in sys.argv[2:]]:
        if data is not None and hashlib.sha256(data).hexdigest() != want:
            sys.exit("FAILED: raw bytes do not match the subject digest")
    # 4. the checkpoint note: body, blank line, "— origin base64(keyid+sig)"
    note = bundle["checkpoint"]
    body, sigs = note.split("\n\n", 1)
    body += "\n"
    origin, size, root_b64 = body.splitlines()
    keyid = hashlib.sha256(origin.encode() + b"\n\xff" + pk).digest()[:4]
    packed_body = msgpack.packb(body)
    ok = False
    for line in sigs.splitlines():
        dash, name, blob = line.split(" ")
        blob = base64.b64decode(blob)
        if dash == "\u2014" and name == origin and blob[:4] == keyid:
            check_sig(pk, "tlog-checkpoint", bytes(32), packed_body, blob[4:], "checkpoint")
            ok = True
    if not ok:
        sys.exit("FAILED: no checkpoint signature by the node key")
    # 5. inclusion of the statement envelope in the checkpoint's tree
    if not inclusion_ok(leaf_hash(bundle["envelope"]), bundle["index"], int(size),
                        bundle["proof"], base64.b64decode(root_b64)):
        sys.exit("FAILED: inclusion proof")
    print("OK", subject["name"], want)


if __name__ == "__main__":
    main()
