#!/usr/bin/python3
"""Independent implementation of ECVRF-EDWARDS25519-SHA512-TAI (RFC 9381,
suite 0x03) in plain Python integers, used to cross-check common/wd_vrf.c.

It first checks itself against the RFC 9381 Appendix B.3 examples in
tests/vectors/vrf_rfc9381.txt, then writes tests/vectors/vrf.txt: more
known answers (other seeds and alpha lengths) and the awkward cases the C
code must get exactly right - public keys and Gammas with a small-order
(torsion) component, which RFC 9381 accepts when the challenge happens to
annihilate the torsion and rejects otherwise, small-order keys, and
non-canonical encodings. ctest re-runs it and compares with the committed
file, so the two implementations cannot drift apart.

Usage: vrf_vectors.py [OUTPUT]   (default: standard output)
"""
import hashlib
import os
import sys

P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493
D = -121665 * pow(121666, -1, P) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)
SUITE = b"\x03"
IDENTITY = (0, 1)


def add(a, b):
    (x1, y1), (x2, y2) = a, b
    t = D * x1 * x2 * y1 * y2 % P
    return ((x1 * y2 + x2 * y1) * pow(1 + t, -1, P) % P,
            (y1 * y2 + x1 * x2) * pow(1 - t, -1, P) % P)


def neg(a):
    return (-a[0] % P, a[1])


def mul(n, a):
    result = IDENTITY
    while n:
        if n & 1:
            result = add(result, a)
        a = add(a, a)
        n >>= 1
    return result


def encode(a):
    x, y = a
    return (y | (x & 1) << 255).to_bytes(32, "little")


def decode(s):
    """RFC 8032 section 5.1.3; None when s is not a point."""
    n = int.from_bytes(s, "little")
    y, sign = n & (2**255 - 1), n >> 255
    if y >= P:
        return None
    u, v = (y * y - 1) % P, (D * y * y + 1) % P
    x = u * pow(v, 3, P) * pow(u * pow(v, 7, P), (P - 5) // 8, P) % P
    if v * x * x % P != u:
        x = x * SQRT_M1 % P
        if v * x * x % P != u:
            return None
    if x == 0 and sign:
        return None
    if x & 1 != sign:
        x = P - x
    return (x, y)


BASE = decode(bytes.fromhex("5866666666666666666666666666666666666666666666666666666666666666"))


def sha512(*parts):
    return hashlib.sha512(b"".join(parts)).digest()


def secret(sk):
    h = sha512(sk)
    x = int.from_bytes(h[:32], "little")
    x = (x & ~7 & (2**254 - 1)) | 2**254
    return x, h[32:]


def hash_to_curve(pk_string, alpha):
    for ctr in range(256):
        h = decode(sha512(SUITE, b"\x01", pk_string, alpha, bytes([ctr]), b"\x00")[:32])
        if h is not None:
            return mul(8, h)
    raise ValueError("no point")


def challenge(*points):
    return int.from_bytes(sha512(SUITE, b"\x02", *[encode(q) for q in points], b"\x00")[:16],
                          "little")


def proof_to_hash(gamma):
    return sha512(SUITE, b"\x03", encode(mul(8, gamma)), b"\x00")


def prove(sk, alpha, pk_torsion=IDENTITY, gamma_torsion=IDENTITY):
    """ECVRF_prove; the torsion arguments build the dishonest variants: a
    public key Y + T, or a Gamma x*H + T, proved as if honest."""
    x, prefix = secret(sk)
    y = add(mul(x, BASE), pk_torsion)
    h = hash_to_curve(encode(y), alpha)
    gamma = add(mul(x, h), gamma_torsion)
    k = int.from_bytes(sha512(prefix, encode(h)), "little") % L
    c = challenge(y, h, gamma, mul(k, BASE), mul(k, h))
    s = (k + c * x) % L
    return encode(y), encode(gamma) + c.to_bytes(16, "little") + s.to_bytes(32, "little"), c


def verify(pk_string, alpha, pi):
    y = decode(pk_string)
    if y is None:
        return "bad-key"
    if mul(8, y) == IDENTITY:
        return "small-order-key"
    gamma = decode(pi[:32])
    if gamma is None:
        return "bad-gamma"
    c = int.from_bytes(pi[32:48], "little")
    s = int.from_bytes(pi[48:], "little")
    if s >= L:
        return "scalar-range"
    h = hash_to_curve(pk_string, alpha)
    u = add(mul(s, BASE), neg(mul(c, y)))
    v = add(mul(s, h), neg(mul(c, gamma)))
    return proof_to_hash(gamma) if challenge(y, h, gamma, u, v) == c else "invalid"


def read_rfc(path):
    values = {}
    for line in open(path):
        if line.strip() and not line.startswith("#"):
            name, value = line.strip().split("=", 1)
            values[name] = bytes.fromhex(value)
    return values


def torsion_point(order):
    """A point of exactly the given small order: L times a point of full
    order, taken from the first y that decodes to one."""
    for y in range(2, 1000):
        q = decode(y.to_bytes(32, "little"))
        if q is None:
            continue
        t = mul(L, q)
        if mul(order, t) == IDENTITY and mul(order // 2, t) != IDENTITY:
            return t
    raise ValueError("no torsion point")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    rfc = read_rfc(os.path.join(here, "vrf_rfc9381.txt"))
    for n in (16, 17, 18):
        ex = lambda k: rfc["example%d.%s" % (n, k)]
        pk, pi, _ = prove(ex("sk"), ex("alpha"))
        assert pk == ex("pk") and pi == ex("pi"), "example %d prove" % n
        assert verify(pk, ex("alpha"), pi) == ex("beta"), "example %d verify" % n

    out = open(sys.argv[1], "w") if len(sys.argv) > 1 else sys.stdout
    w = lambda name, value: out.write("%s=%s\n" % (name, value.hex()))
    out.write("# ECVRF-EDWARDS25519-SHA512-TAI cases generated by tests/vectors/vrf_vectors.py,\n"
              "# an independent Python implementation checked against RFC 9381 B.3.\n")

    # Honest proofs for alphas of several lengths.
    for i, length in enumerate((0, 1, 31, 32, 33, 200, 1000)):
        sk = hashlib.sha256(b"warden vrf vector %d" % i).digest()
        alpha = bytes((j * 7 + i) & 0xFF for j in range(length))
        pk, pi, _ = prove(sk, alpha)
        for name, value in (("sk", sk), ("pk", pk), ("alpha", alpha), ("pi", pi),
                            ("beta", verify(pk, alpha, pi))):
            w("honest%d.%s" % (i, name), value)

    # A public key Y + T8 (T8 of order 8), and a Gamma x*H + T8 under an
    # honest key: either proof verifies exactly when the challenge c is a
    # multiple of 8, which cancels c*T8 in U or V; the Gamma case keeps the
    # honest beta because proof_to_hash clears the cofactor.
    t8 = torsion_point(8)
    for label, torsion in (("torsion_key", {"pk_torsion": t8}),
                           ("torsion_gamma", {"gamma_torsion": t8})):
        sk = hashlib.sha256(b"warden vrf " + label.encode()).digest()
        cases = {}
        for counter in range(200):
            alpha = b"%s %d" % (label.encode(), counter)
            pk, pi, c = prove(sk, alpha, **torsion)
            cases.setdefault("accept" if c % 8 == 0 else "reject", (alpha, pk, pi))
            if len(cases) == 2:
                break
        for kind in ("accept", "reject"):
            alpha, pk, pi = cases[kind]
            result = verify(pk, alpha, pi)
            assert (result != "invalid") == (kind == "accept")
            for name, value in (("pk", pk), ("alpha", alpha), ("pi", pi)):
                w("%s_%s.%s" % (label, kind, name), value)
            if kind == "accept":
                honest_pk, honest_pi, _ = prove(sk, alpha)
                assert (result == verify(honest_pk, alpha, honest_pi)) == (label == "torsion_gamma")
                w("%s_accept.beta" % label, result)

    # Points the decoder must refuse or classify.
    w("small_order.order8", encode(t8))
    w("small_order.order4", encode(torsion_point(4)))
    w("small_order.identity", encode(IDENTITY))
    w("noncanonical.negative_zero", (1 | 1 << 255).to_bytes(32, "little"))
    for y in range(2, 19):  # y + p still fits in 255 bits
        q = decode(y.to_bytes(32, "little"))
        if q is not None and mul(8, q) != IDENTITY:
            w("noncanonical.y_plus_p", (y + P).to_bytes(32, "little"))
            break
    for y in range(2, 1000):
        if decode(y.to_bytes(32, "little")) is None:
            w("not_on_curve", y.to_bytes(32, "little"))
            break


if __name__ == "__main__":
    main()
