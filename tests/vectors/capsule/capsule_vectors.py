#!/usr/bin/python3
"""Independent Python implementation of the Warden capsule format
(docs/PROTOCOL.md "Capsules"), used two ways by tests/unit/test_capsule_*.c:

  capsule_vectors.py generate DIR
      writes keys.txt, cases.txt and one .capsule file per case: capsules our
      C code must accept (and open to the expected plaintext) or reject with
      the named reason. Sealed boxes and secretstream headers are random, so
      regenerating changes the bytes but never the expected outcomes.

  capsule_vectors.py check FILE CHAIN_HEX RECIPIENT_SK_HEX PLAIN_LEN KIND
      verifies a capsule written by the C code: canonical encoding, schema,
      signature, recipient wrap, every chunk and tag, and the plaintext
      (the pattern below, PLAIN_LEN bytes). Prints the id; exit 0 when good.

Built only on PyNaCl (libsodium's primitives) and the msgpack module, not on
Warden's code. The plaintext pattern: byte i is (31 * i + 7) mod 256.
"""
import hashlib
import os
import sys

import msgpack
import nacl.bindings as nb
import nacl.signing

CHUNK = 65536
ALG = "xchacha20poly1305-secretstream"
TAG_MESSAGE = nb.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
TAG_FINAL = nb.crypto_secretstream_xchacha20poly1305_TAG_FINAL


def pattern(n):
    return bytes((31 * i + 7) & 0xFF for i in range(n))


def pack(value):
    # msgpack-python writes integers and lengths in their shortest form and
    # keeps dict insertion order; every map below is built with sorted keys.
    return msgpack.packb(value, use_bin_type=True)


def sorted_map(d):
    return {k: d[k] for k in sorted(d, key=lambda k: k.encode())}


def digest(chain, body):
    return hashlib.sha256(b"warden/1\x00capsule\x00" + chain + body).digest()


def encrypt(key, plain, chunk=CHUNK, tags=None, order=None):
    """Chunks of chunk bytes (at least one), the last TAG_FINAL; tags and
    order override the tag and the order of chunks (for bad cases)."""
    state = nb.crypto_secretstream_xchacha20poly1305_state()
    header = nb.crypto_secretstream_xchacha20poly1305_init_push(state, key)
    pieces = [plain[i:i + chunk] for i in range(0, len(plain), chunk)] or [b""]
    out = []
    for i, piece in enumerate(pieces):
        tag = TAG_FINAL if i == len(pieces) - 1 else TAG_MESSAGE
        if tags is not None:
            tag = tags[i]
        out.append(nb.crypto_secretstream_xchacha20poly1305_push(state, piece, None, tag))
    if order is not None:
        out = [out[i] for i in order]
    return header, b"".join(out)


def default_policy():
    return {"code": [], "expires": 0, "key_protection": [], "measurements": [],
            "min_tier": "none", "nodes": []}


def seal(chain, owner_seed, recipients, plain, kind="data", policy=None, key=None,
         mutate=None, sign_chain=None, **enc_opts):
    """Builds a capsule. mutate(fields) may change the unsigned map before
    signing (bad-but-signed cases)."""
    key = key or nb.crypto_secretstream_xchacha20poly1305_keygen()
    chunk = enc_opts.pop("chunk", CHUNK)
    header, ct = encrypt(key, plain, chunk=chunk, **enc_opts)
    wraps = sorted(({"key": nb.crypto_box_seal(key, pk), "to": pk} for pk in recipients),
                   key=lambda w: w["to"])
    sk = nacl.signing.SigningKey(owner_seed)
    fields = {
        "chain": chain,
        "ciphertext": ct,
        "enc": {"alg": ALG, "chunk": chunk, "header": header, "size": len(plain)},
        "kind": kind,
        "owner": bytes(sk.verify_key),
        "policy": policy or default_policy(),
        "v": 1,
        "wraps": wraps,
    }
    if mutate:
        mutate(fields)
    fields = sorted_map(fields)
    body = pack(fields)
    sig = sk.sign(digest(sign_chain or chain, body)).signature
    fields["sig"] = sig
    return pack(sorted_map(fields))


class Bad(Exception):
    pass


def check(data, chain, curve_sk, plain_len, kind):
    value = msgpack.unpackb(data, raw=False, strict_map_key=True)
    if pack(value) != data:
        raise Bad("not canonical")
    keys = ["chain", "ciphertext", "enc", "kind", "owner", "policy", "sig", "v", "wraps"]
    if list(value) != keys:
        raise Bad("keys %r" % list(value))
    if value["v"] != 1 or value["chain"] != chain or value["kind"] != kind:
        raise Bad("v, chain or kind")
    enc = value["enc"]
    if list(enc) != ["alg", "chunk", "header", "size"] or enc["alg"] != ALG \
            or enc["chunk"] != CHUNK or enc["size"] != plain_len:
        raise Bad("enc %r" % enc)
    policy = value["policy"]
    if list(policy) != list(default_policy()):
        raise Bad("policy keys")
    tos = [w["to"] for w in value["wraps"]]
    if tos != sorted(set(tos)) or not tos:
        raise Bad("wraps order")
    unsigned = {k: v for k, v in value.items() if k != "sig"}
    nacl.signing.VerifyKey(value["owner"]).verify(digest(chain, pack(unsigned)), value["sig"])
    curve_pk = nb.crypto_scalarmult_base(curve_sk)
    wrap = [w for w in value["wraps"] if w["to"] == curve_pk]
    if len(wrap) != 1:
        raise Bad("not a recipient")
    key = nb.crypto_box_seal_open(wrap[0]["key"], curve_pk, curve_sk)
    state = nb.crypto_secretstream_xchacha20poly1305_state()
    nb.crypto_secretstream_xchacha20poly1305_init_pull(state, enc["header"], key)
    ct = value["ciphertext"]
    n_chunks = max(1, -(-plain_len // CHUNK))
    if len(ct) != plain_len + 17 * n_chunks:
        raise Bad("ciphertext length")
    out = []
    for i in range(n_chunks):
        piece = ct[i * (CHUNK + 17):(i + 1) * (CHUNK + 17)]
        m, tag = nb.crypto_secretstream_xchacha20poly1305_pull(state, piece, None)
        if tag != (TAG_FINAL if i == n_chunks - 1 else TAG_MESSAGE):
            raise Bad("tag of chunk %d" % i)
        out.append(m)
    if b"".join(out) != pattern(plain_len):
        raise Bad("plaintext")
    return hashlib.sha256(data).hexdigest()


def generate(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    seed = lambda tag: hashlib.sha256(b"capsule-vector-" + tag).digest()
    chain = seed(b"chain")
    other_chain = seed(b"other-chain")
    owner_seed = seed(b"owner")
    rcpt_sk = [seed(b"recipient-%d" % i) for i in range(3)]
    rcpt_pk = [nb.crypto_scalarmult_base(sk) for sk in rcpt_sk]
    outsider_sk = seed(b"outsider")
    two = rcpt_pk[:2]
    cases = []

    def case(expect, name, data, plain_len, max_len=0):
        with open(os.path.join(out_dir, name + ".capsule"), "wb") as f:
            f.write(data)
        cases.append("%s %s %d %d %s" % (expect, name, plain_len, max_len,
                                         hashlib.sha256(data).hexdigest()))

    # Accepted, opened by recipient 0 and 1.
    case("ok", "empty", seal(chain, owner_seed, two, b""), 0)
    case("ok", "small", seal(chain, owner_seed, two, pattern(13), kind="code"), 13)
    case("ok", "exact-chunk", seal(chain, owner_seed, two, pattern(CHUNK), kind="env"), CHUNK)
    policy = {"code": sorted([seed(b"code-a"), seed(b"code-b")]), "expires": 1900000000000,
              "key_protection": ["pkcs11", "tpm"], "measurements": [seed(b"m")],
              "min_tier": "affirming", "nodes": sorted([seed(b"n1"), seed(b"n2")])}
    case("ok", "two-chunks-policy",
         seal(chain, owner_seed, two, pattern(CHUNK + 1000), kind="result", policy=policy),
         CHUNK + 1000)

    small = seal(chain, owner_seed, two, pattern(13))
    flip = bytearray(small)
    flip[60] ^= 1  # inside the ciphertext
    case("CAPSULE_ERR_CAPSULE_SIGNATURE", "tampered-ciphertext", bytes(flip), 13)
    flip = bytearray(small)
    flip[small.rindex(b"\xa3sig\xc4\x40") + 16] ^= 1  # inside the sig
    case("CAPSULE_ERR_CAPSULE_SIGNATURE", "tampered-tail", bytes(flip), 13)
    case("CAPSULE_ERR_CAPSULE_SIGNATURE", "signed-for-other-chain",
         seal(chain, owner_seed, two, pattern(13), sign_chain=other_chain), 13)
    case("CAPSULE_ERR_CAPSULE_CHAIN", "wrong-chain", seal(other_chain, owner_seed, two, b"x"), 1)
    case("CAPSULE_ERR_CAPSULE_TRUNCATED", "truncated-tail", small[:-10], 13)
    case("CAPSULE_ERR_CAPSULE_TRUNCATED", "truncated-ciphertext", small[:70], 13)
    case("CAPSULE_ERR_CAPSULE_TRUNCATED", "truncated-head", small[:20], 13)
    case("CAPSULE_ERR_CAPSULE_NONCANONICAL", "trailing-byte", small + b"\x00", 13)
    case("CAPSULE_ERR_CAPSULE_OVERSIZE", "over-limit", small, 13, len(small) - 1)
    case("CAPSULE_ERR_CAPSULE_NONCANONICAL", "not-a-map", pack([1, 2, 3]), 0)

    def set_in(path, val):
        def f(fields):
            d = fields
            for k in path[:-1]:
                d = d[k]
            d[path[-1]] = val
        return f

    signed_bad = [
        ("CAPSULE_ERR_CAPSULE_VERSION", "version-2", set_in(["v"], 2)),
        ("CAPSULE_ERR_CAPSULE_KIND", "kind-blob", set_in(["kind"], "blob")),
        ("CAPSULE_ERR_CAPSULE_ENC", "alg-other", set_in(["enc", "alg"], "aes256gcm")),
        ("CAPSULE_ERR_CAPSULE_LENGTH", "size-off-by-one", set_in(["enc", "size"], 14)),
        ("CAPSULE_ERR_CAPSULE_NONCANONICAL", "header-short", set_in(["enc", "header"], b"\0" * 23)),
        ("CAPSULE_ERR_CAPSULE_NONCANONICAL", "owner-missing",
         lambda f: f.pop("owner")),
        ("CAPSULE_ERR_CAPSULE_NONCANONICAL", "unknown-key", set_in(["zzz"], 1)),
        ("CAPSULE_ERR_CAPSULE_NONCANONICAL", "enc-unknown-key", set_in(["enc", "zz"], 1)),
        ("CAPSULE_ERR_CAPSULE_WRAPS", "no-wraps", set_in(["wraps"], [])),
        ("CAPSULE_ERR_CAPSULE_WRAPS", "wraps-unsorted",
         lambda f: f.__setitem__("wraps", sorted(f["wraps"], key=lambda w: w["to"],
                                                 reverse=True))),
        ("CAPSULE_ERR_CAPSULE_WRAPS", "wraps-duplicate",
         lambda f: f.__setitem__("wraps", [f["wraps"][0], f["wraps"][0]])),
        ("CAPSULE_ERR_POLICY", "policy-tier-gold", set_in(["policy", "min_tier"], "gold")),
        ("CAPSULE_ERR_POLICY", "policy-nodes-unsorted",
         set_in(["policy", "nodes"], [b"\2" * 32, b"\1" * 32])),
        ("CAPSULE_ERR_POLICY", "policy-keyprot-upper",
         set_in(["policy", "key_protection"], ["TPM"])),
    ]
    for reason, name, fn in signed_bad:
        case(reason, name, seal(chain, owner_seed, two, pattern(13), mutate=fn), 13)
    case("CAPSULE_ERR_CAPSULE_ENC", "chunk-4096",
         seal(chain, owner_seed, two, pattern(5000), chunk=4096), 5000)

    # Non-canonical bytes that still decode: v as uint8 (0xcc 0x01), signed.
    sk = nacl.signing.SigningKey(owner_seed)
    raw = msgpack.unpackb(small, raw=False)
    unsigned = {k: v for k, v in raw.items() if k != "sig"}
    body = pack(unsigned)
    assert body.endswith(pack("wraps") + pack(unsigned["wraps"]))
    vpos = body.rindex(b"\xa1v\x01")
    body2 = body[:vpos] + b"\xa1v\xcc\x01" + body[vpos + 3:]
    sig = sk.sign(digest(chain, body2)).signature
    full = small[:small.rindex(b"\xa3sig")] + b"\xa3sig\xc4\x40" + sig + b"\xa1v\xcc\x01" \
        + body2[vpos + 4:]
    case("CAPSULE_ERR_CAPSULE_NONCANONICAL", "v-not-shortest", full, 13)

    # Parse fine, fail when opened by a recipient.
    p2 = pattern(CHUNK + 10)
    case("open:CAPSULE_ERR_CHUNK_AUTH", "chunks-reordered",
         seal(chain, owner_seed, two, pattern(2 * CHUNK), order=[1, 0]), 2 * CHUNK)
    case("open:CAPSULE_ERR_STREAM_FINAL", "final-early",
         seal(chain, owner_seed, two, p2, tags=[TAG_FINAL, TAG_FINAL]), CHUNK + 10)
    case("open:CAPSULE_ERR_STREAM_FINAL", "final-missing",
         seal(chain, owner_seed, two, p2, tags=[TAG_MESSAGE, TAG_MESSAGE]), CHUNK + 10)
    other_key = nb.crypto_secretstream_xchacha20poly1305_keygen()

    def wrap_other(f):
        f["wraps"] = sorted(({"key": nb.crypto_box_seal(other_key, pk), "to": pk}
                             for pk in two), key=lambda w: w["to"])
    case("open:CAPSULE_ERR_CHUNK_AUTH", "wraps-other-key",
         seal(chain, owner_seed, two, pattern(13), mutate=wrap_other), 13)

    def wrap_garbage(f):
        f["wraps"] = sorted(({"key": bytes(80), "to": pk} for pk in two),
                            key=lambda w: w["to"])
    case("open:CAPSULE_ERR_UNWRAP", "wraps-garbage",
         seal(chain, owner_seed, two, pattern(13), mutate=wrap_garbage), 13)

    with open(os.path.join(out_dir, "keys.txt"), "w") as f:
        f.write("# made by capsule_vectors.py generate; seeds are SHA-256 of labels\n")
        f.write("chain=%s\nother_chain=%s\n" % (chain.hex(), other_chain.hex()))
        f.write("owner_seed=%s\n" % owner_seed.hex())
        for i in range(2):
            f.write("recipient%d_sk=%s\n" % (i, rcpt_sk[i].hex()))
        f.write("outsider_sk=%s\n" % outsider_sk.hex())
    with open(os.path.join(out_dir, "cases.txt"), "w") as f:
        f.write("# expect name plain_len max_len sha256; expect is ok, a parse reason, or\n")
        f.write("# open:REASON (parses, then opening with recipient0 fails so)\n")
        f.write("\n".join(cases) + "\n")


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "generate":
        generate(sys.argv[2])
        return 0
    if len(sys.argv) == 7 and sys.argv[1] == "check":
        with open(sys.argv[2], "rb") as f:
            data = f.read()
        try:
            print(check(data, bytes.fromhex(sys.argv[3]), bytes.fromhex(sys.argv[4]),
                        int(sys.argv[5]), sys.argv[6]))
        except Exception as e:  # any failure is a verdict of "bad"
            print("bad: %s: %s" % (type(e).__name__, e), file=sys.stderr)
            return 1
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
