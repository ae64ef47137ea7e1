#!/usr/bin/python3
"""test_observer_vectors.py: offline checks of observer.py's own VRF,
sortition and block code against the project's known answers, so that a
mistake in them shows without a cluster (ctest interop.observer_vectors).

- ECVRF (vrf_verify, vrf_beta) against tests/vectors/vrf.txt: every honest
  case verifies to its beta and fails once a byte of pi or alpha changes;
  the non-canonical and off-curve encodings are refused as points.
- The sortition count and priority against every case of
  tests/vectors/sortition.txt, and the proposer alpha.
- The block checks (Chain.add, as for pushed blocks) over the VRF chain of
  tests/vectors/ledger_vrf.txt, and over copies with one thing wrong, each
  refused with its reason: v1 form in a VRF chain, claim count 0, a claim
  priority, count or proof that does not follow, the v1 seed rule, a
  certificate of an earlier round than the claim.

Usage: test_observer_vectors.py   (exit 0 when every check passes)
"""
import hashlib
import os
import struct
import sys
import tempfile

import msgpack
import nacl.signing

HERE = os.path.dirname(os.path.abspath(__file__))
VECTORS = os.path.join(HERE, "..", "vectors")
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True
import observer as o  # noqa: E402


def read_kv(name):
    kv = {}
    with open(os.path.join(VECTORS, name)) as f:
        for line in f:
            if line.startswith("#") or "=" not in line:
                continue
            k, v = line.strip().split("=", 1)
            kv[k] = v
    return kv


def check_vrf():
    kv = {k: bytes.fromhex(v) for k, v in read_kv("vrf.txt").items()}
    n = 0
    while "honest%d.pk" % n in kv:
        pk, alpha, pi, beta = (kv["honest%d.%s" % (n, k)] for k in ("pk", "alpha", "pi", "beta"))
        assert o.vrf_verify(pk, alpha, pi) == beta, n
        assert o.vrf_beta(pi) == beta, n
        for at in (0, 40, 60):
            bad = bytearray(pi)
            bad[at] ^= 0x01
            assert o.vrf_verify(pk, alpha, bytes(bad)) is None, (n, at)
        assert o.vrf_verify(pk, alpha + b"\x00", pi) is None, n
        n += 1
    assert n >= 5
    for name in ("noncanonical.negative_zero", "noncanonical.y_plus_p", "not_on_curve"):
        assert not o.point_ok(kv[name]), name
    # RFC 9381 rejects these, and so does the observer
    for name in ("torsion_key_reject", "torsion_gamma_reject"):
        assert o.vrf_verify(kv[name + ".pk"], kv[name + ".alpha"], kv[name + ".pi"]) is None
    return n


def check_sortition():
    kv = read_kv("sortition.txt")
    alpha = o.sortition_alpha(bytes.fromhex(kv["chain"]), 1, bytes.fromhex(kv["seed"]),
                              1000000, 3)
    assert alpha.hex() == kv["alpha_proposer"]
    cases = 0
    with open(os.path.join(VECTORS, "sortition.txt")) as f:
        for line in f:
            if not line.startswith("case "):
                continue
            _, w, big_w, tau, beta, j, priority = line.split()
            beta = bytes.fromhex(beta)
            assert o.sortition_count(int(w), int(big_w), int(tau), beta) == int(j), line
            if int(j):
                assert o.sortition_priority(beta, int(j)).hex() == priority, line
            cases += 1
    assert cases >= 100
    return cases


class VrfChain:
    """The vector VRF chain, as the observer is given it."""

    def __init__(self, tmp):
        kv = read_kv("ledger_vrf.txt")
        self.genesis_path = os.path.join(tmp, "genesis")
        with open(self.genesis_path, "wb") as f:
            f.write(bytes.fromhex(kv["genesis"]))
        self.g = o.Genesis(self.genesis_path)
        assert self.g.chain.hex() == kv["chain_id"] and self.g.vrf
        self.blocks, self.certs = [None], [None]
        h = 1
        while "block_%d" % h in kv:
            self.blocks.append(bytes.fromhex(kv["block_%d" % h]))
            self.certs.append(bytes.fromhex(kv["cert_%d" % h]))
            h += 1

    def run(self, upto, block=None, cert=None):
        """Chain.add over heights 1..upto, the last block (and cert)
        replaced when given; returns the stats or the Failure's text."""
        stats = {"records_in_blocks": {}, "notices_committed": set(), "signatures": 0,
                 "links": 0, "blocks": 0, "blocks_again": 0, "certs_checked": 0,
                 "certs_form_only": 0, "claims_checked": 0, "claims_form_only": 0}
        chain = o.Chain(self.g, stats)
        try:
            for h in range(1, upto + 1):
                last = h == upto
                chain.add(block if last and block else self.blocks[h],
                          cert if last and cert else self.certs[h], "vectors")
        except o.Failure as err:
            return str(err)
        return stats


def edited(data, **changes):
    """The block with keys changed (None: removed), re-encoded canonically."""
    b = msgpack.unpackb(data, raw=False)
    for k, v in changes.items():
        if v is None:
            b.pop(k)
        else:
            b[k] = v
    return msgpack.packb(dict(sorted(b.items(), key=lambda kv: kv[0].encode())),
                         use_bin_type=True)


def claim_of(data):
    return msgpack.unpackb(msgpack.unpackb(data, raw=False)["claim"], raw=False)


def packed(claim):
    return msgpack.packb(claim, use_bin_type=True)


def expect(got, want):
    assert isinstance(got, str) and want in got, "wanted %r, got %r" % (want, got)


def check_blocks(tmp):
    c = VrfChain(tmp)
    top = len(c.blocks) - 1
    stats = c.run(top)
    assert isinstance(stats, dict), stats
    assert stats["blocks"] == top and stats["claims_checked"] == top, stats
    assert stats["certs_checked"] == 2 * top - 1, stats

    b3 = c.blocks[3]
    expect(c.run(3, edited(b3, claim=None, round=None, v=1)), "WD_ERR_BAD_VERSION")
    expect(c.run(3, edited(b3, round=None)), "WD_ERR_MISSING_KEY")
    claim = claim_of(b3)
    expect(c.run(3, edited(b3, claim=packed(dict(claim, count=0)))),
           "CONS_ERR_SORTITION_NOT_SELECTED")
    bad = bytearray(claim["priority"])
    bad[31] ^= 1
    expect(c.run(3, edited(b3, claim=packed(dict(claim, priority=bytes(bad))))),
           "CONS_ERR_SORTITION_PRIORITY")
    beta = o.vrf_beta(claim["proof"])
    more = dict(claim, count=2, priority=o.sortition_priority(beta, 2))
    expect(c.run(3, edited(b3, claim=packed(more))), "CONS_ERR_SORTITION_COUNT")
    bad = bytearray(claim["proof"])
    bad[48] ^= 1  # s: beta (and so the seed) unchanged
    expect(c.run(3, edited(b3, claim=packed(dict(claim, proof=bytes(bad))))),
           "WD_ERR_VRF_INVALID")
    b = msgpack.unpackb(b3, raw=False)
    expect(c.run(3, edited(b3, round=b["round"] + 1)), "WD_ERR_VRF_INVALID")
    prev = msgpack.unpackb(c.blocks[2], raw=False)
    v1_seed = hashlib.sha256(prev["seed"] + b["prev"] + struct.pack(">Q", 3)).digest()
    expect(c.run(3, edited(b3, seed=v1_seed)), "CONS_ERR_BLOCK_SEED")
    # block 3's claim is for round 1: a certificate of round 0, signed by
    # the vector nodes (ledger_vectors.node(i): seed bytes([i]) * 32)
    assert b["round"] == 1
    keys = {bytes(k.verify_key): k for k in
            (nacl.signing.SigningKey(bytes([i]) * 32) for i in range(1, 5))}
    bid = hashlib.sha256(b3).digest()
    d = o.digest("precommit", c.g.chain, o.precommit_body(bid, 3, 0))
    sigs = [[i, keys[n["sign_pk"]].sign(d).signature] for i, n in enumerate(c.g.nodes)]
    low = msgpack.packb({"block": bid, "height": 3, "round": 0, "sigs": sigs, "v": 1},
                        use_bin_type=True)
    expect(c.run(3, cert=low), "CONS_ERR_BLOCK_ROUND")
    d = o.digest("precommit", c.g.chain, o.precommit_body(bid, 3, 2))
    sigs = [[i, keys[n["sign_pk"]].sign(d).signature] for i, n in enumerate(c.g.nodes)]
    later = msgpack.packb({"block": bid, "height": 3, "round": 2, "sigs": sigs, "v": 1},
                          use_bin_type=True)
    assert isinstance(c.run(3, cert=later), dict)
    return top


def main():
    with tempfile.TemporaryDirectory(prefix="warden-observer-") as tmp:
        vrf = check_vrf()
        cases = check_sortition()
        blocks = check_blocks(tmp)
    print("observer vectors: %d VRF proofs, %d sortition cases, %d VRF-chain blocks and 9 "
          "refusals: OK" % (vrf, cases, blocks))
    return 0


if __name__ == "__main__":
    sys.exit(main())
