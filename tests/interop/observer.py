#!/usr/bin/python3
"""observer.py: a read-only Warden observer written from docs/PROTOCOL.md
alone, with Debian's python3-zmq, python3-msgpack and python3-nacl.

It proves the protocol document is complete enough to follow a cluster from
outside: it parses the genesis file itself ("Genesis", "Node certificate"),
joins a node as an observer ("Peer transport", "Observers": its own X25519
key, a CURVE ROUTER it receives on, a CURVE DEALER it subscribes on, its own
ZAP handler that admits only the genesis nodes' keys), and checks everything
it is pushed: canonical msgpack ("Canonical msgpack"), every envelope under
the signing rule ("Signed envelope"), and every block's id, records_root,
prev link, seed, height, time and commit certificate ("Blocks and the
ledger", "Commit certificate").

Commands:
  observer.py keygen --out FILE
      writes a new X25519 key file ("Key files", alg x25519) and prints the
      public key in hex: the line an operator adds to mesh/observers.
  observer.py run --key FILE --genesis FILE --node NAME=ENDPOINT [...]
                  --listen tcp://HOST:PORT [--from H] [--min-blocks N]
                  [--expect-notice TEXT ...] [--expect-gossiped TEXT ...]
                  [--timeout S] [--misbehave]
      subscribes to each node, verifies everything received, prints a
      summary and exits 0 once at least N blocks arrived and every expected
      notice was seen committed (--expect-gossiped: also pushed as a record,
      which needs it published after the subscription); exits 1 with the reason
      at the first failure or at the timeout. --misbehave also sends each
      node one frame on a channel an observer may not use (the node must
      refuse and count it; nothing observable comes back).
  observer.py probe --key FILE --genesis FILE --node NAME=ENDPOINT [--timeout S]
      connects with a key and reports whether the node's ZAP handler refused
      it: exit 0 when refused, 1 when admitted or undecided.
  observer.py check-export --genesis FILE EXPORT
      runs the same block checks offline over a `wardenctl ledger export`
      file ("Export file"): exit 0 when every block passes, 1 with the
      reason at the first failure.

Blocks of a chain whose genesis has proposer_vrf = 1 are v2 ("Block"):
their `claim` decodes ("The claim and its wire form"), the seed follows
the v2 rule (beta from ECVRF_proof_to_hash, "VRF"), the priority follows
from beta and the count, the VRF proof verifies under the proposer's
vrf_pk when the seed of block max(h - seed_lookback, 0) is held, the
count follows from weight 1 of the genesis set while the set is the
genesis set, and the certificate's round is not below the claim's.
"""
import argparse
import hashlib
import os
import struct
import sys
import time

import msgpack
import nacl.bindings
import nacl.exceptions
import nacl.public
import nacl.signing
import zmq

MAX_DEPTH = 16
FRAME_VERSION = 1
CHANNEL_GOSSIP = 2
CHANNEL_OBSERVE = 6
ZERO32 = bytes(32)
RENEW_S = 5.0  # a subscription lasts 30 s at the node; renew well before


class Failure(Exception):
    """A check failed: the message names what and why."""


# ---- canonical msgpack ("Canonical msgpack") --------------------------------


def _walk(value, depth, max_field):
    """Type, size, key and depth rules that a byte-exact re-encoding cannot
    see on its own (floats and extension types re-encode, key order is the
    decoder's)."""
    if isinstance(value, (dict, list)):
        depth += 1
        if depth > MAX_DEPTH:
            raise Failure("WD_ERR_TOO_DEEP")
        if len(value) > max_field:
            raise Failure("WD_ERR_OVERSIZE")
    if isinstance(value, dict):
        previous = None
        for key, item in value.items():
            if not isinstance(key, str):
                raise Failure("WD_ERR_KEY_TYPE")
            raw = key.encode("utf-8")
            if previous is not None and raw <= previous:
                raise Failure("WD_ERR_KEYS_UNSORTED" if raw < previous else "WD_ERR_KEY_DUPLICATE")
            previous = raw
            _walk(item, depth, max_field)
    elif isinstance(value, list):
        for item in value:
            _walk(item, depth, max_field)
    elif isinstance(value, float):
        raise Failure("WD_ERR_FLOAT")
    elif isinstance(value, msgpack.ExtType):
        raise Failure("WD_ERR_EXT")
    elif isinstance(value, (bytes, str)):
        if len(value) > max_field:
            raise Failure("WD_ERR_OVERSIZE")
    elif value is None or isinstance(value, (bool, int)):
        pass
    else:
        raise Failure("WD_ERR_BAD_TYPE")


def canonical(data, max_field=16 << 20):
    """Decodes exactly one canonical msgpack value, or raises Failure.

    Strings are decoded as strict UTF-8 (Python refuses overlong forms,
    surrogates and code points above U+10FFFF); the value must re-encode to
    the same bytes, which holds only for shortest forms and no duplicate
    keys."""
    if not data:
        raise Failure("WD_ERR_TRUNCATED")
    try:
        value = msgpack.unpackb(data, raw=False, strict_map_key=False, use_list=True,
                                max_str_len=max_field, max_bin_len=max_field,
                                max_array_len=max_field, max_map_len=max_field,
                                max_ext_len=max_field)
    except msgpack.ExtraData:
        raise Failure("WD_ERR_TRAILING") from None
    except UnicodeDecodeError:
        raise Failure("WD_ERR_BAD_UTF8") from None
    except (ValueError, msgpack.UnpackException, TypeError) as err:
        raise Failure("not msgpack (%s)" % err) from None
    _walk(value, 0, max_field)
    if msgpack.packb(value, use_bin_type=True) != data:
        raise Failure("WD_ERR_INT_NONCANONICAL or WD_ERR_LEN_NONCANONICAL (not the shortest form)")
    return value


def schema(value, keys, what):
    """value is a map with exactly these keys."""
    if not isinstance(value, dict):
        raise Failure("%s: WD_ERR_WRONG_TYPE (not a map)" % what)
    missing = [k for k in keys if k not in value]
    if missing:
        raise Failure("%s: WD_ERR_MISSING_KEY %s" % (what, missing[0]))
    unknown = [k for k in value if k not in keys]
    if unknown:
        raise Failure("%s: WD_ERR_UNKNOWN_KEY %s" % (what, unknown[0]))
    return value


def want(cond, what):
    if not cond:
        raise Failure(what)


def is_uint(v):
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def is_bin(v, n=None):
    return isinstance(v, bytes) and (n is None or len(v) == n)


# ---- signed envelopes ("Signed envelope", "The signing rule") ----------------


def type_ok(t):
    return (1 <= len(t) <= 32 and "a" <= t[0] <= "z"
            and all(c in "abcdefghijklmnopqrstuvwxyz0123456789.-" for c in t))


def verify(sig, message, pk):
    """Pure Ed25519 over the 32-byte digest (crypto_sign_verify_detached)."""
    nacl.signing.VerifyKey(pk).verify(message, sig)


def digest(rtype, chain, body):
    return hashlib.sha256(b"warden/1\x00" + rtype.encode() + b"\x00" + chain + body).digest()


def open_envelope(data, chain, rtype=None, max_bytes=16 << 20):
    """Steps 1-9 of "Decoding and verification order": returns the
    envelope map with its decoded body under "_body"."""
    env = canonical(data, 16 << 20)
    schema(env, ("body", "chain", "from", "sig", "type", "v"), "envelope")
    want(len(data) <= max_bytes, "envelope: WD_ERR_OVERSIZE")
    want(is_bin(env["body"]), "envelope: body WD_ERR_WRONG_TYPE")
    want(is_bin(env["chain"], 32) and is_bin(env["from"], 32) and is_bin(env["sig"], 64),
         "envelope: WD_ERR_BAD_LENGTH")
    want(isinstance(env["type"], str) and is_uint(env["v"]), "envelope: WD_ERR_WRONG_TYPE")
    want(env["v"] == 1, "envelope: WD_ERR_BAD_VERSION")
    want(type_ok(env["type"]), "envelope: type %r WD_ERR_BAD_VALUE" % env["type"])
    env["_body"] = canonical(env["body"], 16 << 20)
    want(env["chain"] == chain, "envelope %s: WD_ERR_WRONG_CHAIN" % env["type"])
    want(rtype is None or env["type"] == rtype, "envelope: WD_ERR_UNEXPECTED_TYPE")
    try:
        verify(env["sig"], digest(env["type"], env["chain"], env["body"]), env["from"])
    except nacl.exceptions.BadSignatureError:
        raise Failure("envelope %s from %s: WD_ERR_BAD_SIGNATURE"
                      % (env["type"], env["from"].hex()[:8])) from None
    return env


# ---- genesis ("Genesis", "Node certificate") ---------------------------------

PARAMS = ("agree_commit_ms", "agree_filter_ms", "agree_precommit_delta_ms", "agree_precommit_ms",
          "agree_prevote_delta_ms", "agree_prevote_ms", "agree_propose_delta_ms",
          "agree_propose_ms", "agree_timeout_max_ms", "block_max_bytes", "epoch_blocks",
          "proposer_vrf", "seed_lookback", "verifiers")
OPTIONAL_PARAMS = {"agree_idle_ms": 1000, "proposers": 5, "task_grace_ms": 300000}


def open_cert(data):
    env = open_envelope(data, ZERO32, "node-cert", 512)
    body = schema(env["_body"], ("created", "curve_pk", "key_protection", "name", "sign_pk",
                                 "v", "vrf_pk"), "node-cert body")
    want(is_bin(body["curve_pk"], 32) and is_bin(body["sign_pk"], 32)
         and is_bin(body["vrf_pk"], 32), "node-cert: WD_ERR_BAD_LENGTH")
    want(body["v"] == 1, "node-cert: WD_ERR_BAD_VERSION")
    want(is_uint(body["created"]) and body["created"] != 0, "node-cert: created WD_ERR_BAD_VALUE")
    want(env["from"] == body["sign_pk"], "node-cert: WD_ERR_NOT_SELF_SIGNED")
    return body


class Genesis:
    def __init__(self, path):
        with open(path, "rb") as f:
            data = f.read()
        want(len(data) <= 135936, "genesis: WD_ERR_OVERSIZE")
        g = schema(canonical(data, 135936), ("created", "name", "nodes", "params", "signers",
                                             "v"), "genesis")
        want(g["v"] == 1, "genesis: WD_ERR_BAD_VERSION")
        want(isinstance(g["nodes"], list) and 1 <= len(g["nodes"]) <= 256,
             "genesis: nodes WD_ERR_GENESIS_EMPTY/LIMIT")
        self.chain = hashlib.sha256(data).digest()
        self.nodes = [open_cert(c) for c in g["nodes"]]
        pks = [n["sign_pk"] for n in self.nodes]
        want(pks == sorted(pks) and len(set(pks)) == len(pks), "genesis: WD_ERR_GENESIS_ORDER")
        # "Genesis": an optional parameter is left out at its default and
        # refused when it names the default.
        params = dict(g["params"])
        for name, default in OPTIONAL_PARAMS.items():
            want(params.pop(name, None) != default, "genesis: %s WD_ERR_BAD_VALUE" % name)
        schema(params, PARAMS, "genesis params")
        want(g["params"]["proposer_vrf"] in (0, 1), "genesis: proposer_vrf WD_ERR_BAD_VALUE")
        want(1 <= g["params"].get("proposers", 5) <= 64, "genesis: proposers WD_ERR_BAD_VALUE")
        self.params = g["params"]
        self.vrf = g["params"]["proposer_vrf"] == 1
        self.proposers = g["params"].get("proposers", 5)
        self.signers = list(g["signers"])
        self.by_sign = {n["sign_pk"]: n for n in self.nodes}
        self.by_curve = {n["curve_pk"]: n for n in self.nodes}
        self.by_name = {n["name"]: n for n in self.nodes}

    def signer_known(self, pk):
        return pk in self.by_sign or pk in self.signers

    def genesis_set(self, height):
        """The validator set of height when it is the genesis set (every
        genesis node, weight 1, genesis order), else None."""
        e = (height - 1) // self.params["epoch_blocks"]
        if e * self.params["epoch_blocks"] <= self.params["seed_lookback"]:
            return [n["sign_pk"] for n in self.nodes]
        return None


# ---- VRF and sortition ("VRF", "Sortition") -----------------------------------

P25519 = 2**255 - 19
L25519 = 2**252 + 27742317777372353535851937790883648493
IDENTITY = bytes([1]) + bytes(31)


def point_ok(s):
    """RFC 8032 §5.1.3 decoding: y below p, no negative zero (x = 0 only
    for y = ±1), on the curve (libsodium's add refuses points off it)."""
    n = int.from_bytes(s, "little")
    y, sign = n & (2**255 - 1), n >> 255
    if y >= P25519 or (sign and y in (1, P25519 - 1)):
        return False
    try:
        nacl.bindings.crypto_core_ed25519_add(s, s)
    except nacl.exceptions.CryptoError:
        return False
    return True


def times8(s):
    for _ in range(3):
        s = nacl.bindings.crypto_core_ed25519_add(s, s)
    return s


def vrf_hash(gamma):
    """ECVRF_proof_to_hash: SHA-512(0x03 0x03 ‖ 8·Gamma ‖ 0x00)."""
    return hashlib.sha512(b"\x03\x03" + times8(gamma) + b"\x00").digest()


def vrf_beta(pi):
    """beta of a proof, or None when Gamma or s does not decode."""
    if len(pi) != 80 or not point_ok(pi[:32]) or int.from_bytes(pi[48:], "little") >= L25519:
        return None
    return vrf_hash(pi[:32])


def vrf_verify(pk, alpha, pi):
    """ECVRF_verify (try-and-increment, validate_key): beta, or None. Keys
    and Gammas outside the prime-order subgroup are refused here (libsodium
    multiplies only there); honest ones never are."""
    beta = vrf_beta(pi)
    if beta is None or not point_ok(pk) or times8(pk) == IDENTITY:
        return None
    h = None
    for ctr in range(256):
        cand = hashlib.sha512(b"\x03\x01" + pk + alpha + bytes([ctr]) + b"\x00").digest()[:32]
        if point_ok(cand):
            h = times8(cand)
            break
    if h is None or h == IDENTITY:
        return None
    gamma, c, s = pi[:32], pi[32:48] + bytes(16), pi[48:]
    try:
        mul = nacl.bindings.crypto_scalarmult_ed25519_noclamp
        u = nacl.bindings.crypto_core_ed25519_sub(
            nacl.bindings.crypto_scalarmult_ed25519_base_noclamp(s), mul(c, pk))
        v = nacl.bindings.crypto_core_ed25519_sub(mul(s, h), mul(c, gamma))
    except nacl.exceptions.CryptoError:
        return None
    c2 = hashlib.sha512(b"\x03\x02" + pk + h + gamma + u + v + b"\x00").digest()[:16]
    return beta if c2 == pi[32:48] else None


def sortition_alpha(chain, role, seed, height, rnd):
    return (b"warden/1\x00sortition\x00" + chain + bytes([role]) + seed
            + struct.pack(">QI", height, rnd) + ZERO32)


def _norm(t, e):
    s = t.bit_length() - 128
    return (t >> s, e + s) if s >= 0 else (t << -s, e + s)


def _mul(a, b):
    return _norm(a[0] * b[0], a[1] + b[1])


def _div(a, n):
    return _norm((a[0] << 64) // n, a[1] - 64)


def sortition_count(w, big_w, tau, beta):
    """The count j ("The count j"), step by step as the document gives it."""
    if w == 0:
        return 0
    if tau >= big_w:
        return w
    u = int.from_bytes(beta[:16], "big")
    x = _div(_norm(big_w - tau, 0), big_w)
    q = _div(_norm(tau, 0), big_w - tau)
    k_max = min(w, 2 * tau + 64)
    p, b, n = None, x, w
    while True:
        if n & 1:
            p = b if p is None else _mul(p, b)
        n >>= 1
        if n == 0:
            break
        b = _mul(b, b)
    c = 0
    for k in range(k_max):
        shift = -(p[1] + 128)
        c += p[0] >> shift if shift < 128 else 0
        if u < c:
            return k
        if k + 1 < k_max:
            p = _div(_mul(_mul(p, q), _norm(w - k, 0)), k + 1)
    return k_max


def sortition_priority(beta, j):
    return min(hashlib.sha256(beta + struct.pack(">Q", i)).digest() for i in range(1, j + 1))


def open_claim(data, what):
    """A sortition claim's wire form: {count, priority: bin(32), proof: bin(80)}."""
    want(is_bin(data) and 1 <= len(data) <= 256, "%s: claim WD_ERR_BAD_LENGTH" % what)
    c = schema(canonical(data, 80), ("count", "priority", "proof"), what + " claim")
    want(is_uint(c["count"]) and c["count"] <= 8256, "%s: claim count WD_ERR_OUT_OF_RANGE" % what)
    want(is_bin(c["priority"], 32) and is_bin(c["proof"], 80), "%s: claim WD_ERR_BAD_LENGTH" % what)
    want(c["count"] >= 1, "%s: CONS_ERR_SORTITION_NOT_SELECTED" % what)
    return c


# ---- blocks ("Blocks and the ledger", "Commit certificate") ------------------


def seed_of(prev_seed, b):
    """v1: SHA-256(prev_seed ‖ prev ‖ height); v2: SHA-256(prev_seed ‖ height
    ‖ beta of the claim's proof); prev_seed is the chain id at height 1."""
    if b["v"] == 1:
        return hashlib.sha256(prev_seed + b["prev"] + struct.pack(">Q", b["height"])).digest()
    return hashlib.sha256(prev_seed + struct.pack(">Q", b["height"]) + b["_beta"]).digest()


def merkle(ids):
    """RFC 6962 Merkle tree hash over the record ids."""
    if not ids:
        return hashlib.sha256(b"").digest()
    if len(ids) == 1:
        return hashlib.sha256(b"\x00" + ids[0]).digest()
    k = 1
    while k * 2 < len(ids):
        k *= 2
    return hashlib.sha256(b"\x01" + merkle(ids[:k]) + merkle(ids[k:])).digest()


def precommit_body(block_id, height, rnd):
    return msgpack.packb({"block": block_id, "height": height, "round": rnd, "v": 1},
                         use_bin_type=True)


def check_cert(genesis, cert_bytes, height, block_id):
    """A commit certificate for (height, block_id). Returns True when its
    signatures and weight were checked (the set of that height is the
    genesis set), False when only its form and block were."""
    c = schema(canonical(cert_bytes, 1 << 20), ("block", "height", "round", "sigs", "v"), "cert")
    want(c["v"] == 1, "cert: WD_ERR_BAD_VERSION")
    want(c["height"] == height, "cert of height %s for block %d" % (c["height"], height))
    want(c["block"] == block_id, "block %d: CONS_ERR_CERT_BLOCK" % height)
    want(isinstance(c["sigs"], list) and len(c["sigs"]) <= 1024, "cert: sigs")
    vset = genesis.genesis_set(height)
    if vset is None:
        return False
    body = precommit_body(block_id, height, c["round"])
    d = digest("precommit", genesis.chain, body)
    last = -1
    for entry in c["sigs"]:
        want(isinstance(entry, list) and len(entry) == 2 and is_uint(entry[0])
             and is_bin(entry[1], 64), "cert: malformed signature entry")
        index, sig = entry
        want(index > last, "cert %d: CONS_ERR_CERT_ORDER" % height)
        want(index < len(vset), "cert %d: CONS_ERR_UNKNOWN_VALIDATOR" % height)
        last = index
        try:
            verify(sig, d, vset[index])
        except nacl.exceptions.BadSignatureError:
            raise Failure("cert %d: precommit of validator %d WD_ERR_BAD_SIGNATURE"
                          % (height, index)) from None
    want(3 * len(c["sigs"]) > 2 * len(vset), "cert %d: CONS_ERR_CERT_WEIGHT" % height)
    return True


BLOCK_KEYS = ("height", "last_cert", "prev", "proposer", "records", "records_root",
              "reputation_hash", "seed", "time", "v", "validators_hash")
BLOCK_KEYS_V2 = tuple(sorted(BLOCK_KEYS + ("claim", "round")))  # proposer_vrf = 1
ROUND_MAX = 2**31 - 1


class Chain:
    """The blocks received so far, by height, and what was checked."""

    def __init__(self, genesis, stats):
        self.g = genesis
        self.stats = stats
        self.blocks = {}  # height -> (id, decoded block)
        self.record_ids = {}  # record id -> height

    def check_claim(self, h, b):
        """A v2 block's proposer claim ("Proposer", "Verifying a claim"):
        the priority from beta and the count always; the VRF proof when the
        seed of block max(h - seed_lookback, 0) is held; the count where the
        set is the genesis set (weight 1 of the genesis node count)."""
        g, claim, beta = self.g, b["_claim"], b["_beta"]
        want(sortition_priority(beta, claim["count"]) == claim["priority"],
             "block %d: claim CONS_ERR_SORTITION_PRIORITY" % h)
        at = max(h - g.params["seed_lookback"], 0)
        seed = g.chain if at == 0 else (self.blocks[at][1]["seed"] if at in self.blocks else None)
        if seed is None:
            self.stats["claims_form_only"] += 1
            return
        alpha = sortition_alpha(g.chain, 1, seed, h, b["round"])
        want(vrf_verify(g.by_sign[b["proposer"]]["vrf_pk"], alpha, claim["proof"]) == beta,
             "block %d: claim WD_ERR_VRF_INVALID (round %d)" % (h, b["round"]))
        if g.genesis_set(h) is not None:
            want(sortition_count(1, len(g.nodes), g.proposers, beta) == claim["count"],
                 "block %d: claim CONS_ERR_SORTITION_COUNT" % h)
        self.stats["claims_checked"] += 1

    def add(self, block_bytes, cert_bytes, source):
        g = self.g
        want(len(block_bytes) <= g.params["block_max_bytes"], "block: above block_max_bytes")
        bid = hashlib.sha256(block_bytes).digest()
        b = canonical(block_bytes, g.params["block_max_bytes"])
        version = b.get("v") if isinstance(b, dict) else None
        schema(b, BLOCK_KEYS_V2 if version == 2 else BLOCK_KEYS, "block")
        h = b["height"]
        want(version in (1, 2), "block: WD_ERR_BAD_VERSION")
        want(is_uint(h) and h >= 1, "block: height")
        want(version == (2 if g.vrf else 1), "block %d: WD_ERR_BAD_VERSION (v %d, proposer_vrf %d)"
             % (h, version, g.vrf))
        if version == 2:
            b["_claim"] = open_claim(b["claim"], "block %d" % h)
            want(is_uint(b["round"]) and b["round"] <= ROUND_MAX,
                 "block %d: round WD_ERR_OUT_OF_RANGE" % h)
            b["_beta"] = vrf_beta(b["_claim"]["proof"])
            want(b["_beta"] is not None, "block %d: claim proof WD_ERR_VRF_BAD_GAMMA" % h)
        if h in self.blocks:
            want(self.blocks[h][0] == bid, "two different blocks at height %d (from %s)"
                 % (h, source))
            self.stats["blocks_again"] += 1
            return
        for key in ("prev", "proposer", "records_root", "reputation_hash", "seed",
                    "validators_hash"):
            want(is_bin(b[key], 32), "block %d: %s WD_ERR_BAD_LENGTH" % (h, key))
        want(b["proposer"] in g.by_sign, "block %d: proposer is not a genesis node" % h)
        ids = []
        for data in b["records"]:
            want(is_bin(data), "block %d: CONS_ERR_BLOCK_RECORD" % h)
            env = open_envelope(data, g.chain)
            want(g.signer_known(env["from"]), "block %d: CONS_ERR_BLOCK_SIGNER" % h)
            rid = hashlib.sha256(data).digest()
            want(rid not in ids and rid not in self.record_ids,
                 "block %d: CONS_ERR_BLOCK_DUPLICATE" % h)
            ids.append(rid)
            self.stats["records_in_blocks"][env["type"]] = \
                self.stats["records_in_blocks"].get(env["type"], 0) + 1
            if env["type"] == "notice":
                self.stats["notices_committed"].add(notice_text(env))
            self.stats["signatures"] += 1
        want(merkle(ids) == b["records_root"], "block %d: CONS_ERR_BLOCK_ROOT" % h)
        if h == 1:
            want(b["prev"] == ZERO32 and b["last_cert"] == b"", "block 1: CONS_ERR_BLOCK_PREV")
        prev = self.blocks.get(h - 1)
        if prev:
            want(b["prev"] == prev[0], "block %d: CONS_ERR_BLOCK_PREV (prev link)" % h)
            want(b["time"] > prev[1]["time"], "block %d: CONS_ERR_BLOCK_TIME" % h)
            want(b["seed"] == seed_of(prev[1]["seed"], b),
                 "block %d: CONS_ERR_BLOCK_SEED" % h)
            self.stats["links"] += 1
        elif h == 1:
            want(b["seed"] == seed_of(g.chain, b), "block 1: CONS_ERR_BLOCK_SEED")
        if version == 2:
            self.check_claim(h, b)
        vset = g.genesis_set(h)
        if vset is not None:
            enc = msgpack.packb([[pk, 1] for pk in vset], use_bin_type=True)
            want(hashlib.sha256(enc).digest() == b["validators_hash"],
                 "block %d: CONS_ERR_BLOCK_VALIDATORS" % h)
        if h > 1:
            full = check_cert(g, b["last_cert"], h - 1, b["prev"])
            self.stats["certs_checked" if full else "certs_form_only"] += 1
        full = check_cert(g, cert_bytes, h, bid)
        self.stats["certs_checked" if full else "certs_form_only"] += 1
        if version == 2:
            want(canonical(cert_bytes)["round"] >= b["round"], "block %d: CONS_ERR_BLOCK_ROUND" % h)
        for rid in ids:
            self.record_ids[rid] = h
        self.blocks[h] = (bid, b)
        # a later block that arrived first: check its link now
        nxt = self.blocks.get(h + 1)
        if nxt:
            want(nxt[1]["prev"] == bid, "block %d: CONS_ERR_BLOCK_PREV (prev link)" % (h + 1))
            self.stats["links"] += 1
        self.stats["blocks"] += 1


def notice_text(env):
    """A notice's body: {text: str, time: uint} ("Notices")."""
    body = schema(env["_body"], ("text", "time"), "notice body")
    want(isinstance(body["text"], str) and is_uint(body["time"]), "notice: WD_ERR_WRONG_TYPE")
    return body["text"]


# ---- keys ("Key files") ---------------------------------------------------------


def keygen(path):
    sk = nacl.public.PrivateKey.generate()
    data = msgpack.packb({"alg": "x25519", "seed": bytes(sk), "v": 1}, use_bin_type=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return bytes(sk.public_key)


def read_key(path):
    with open(path, "rb") as f:
        k = schema(canonical(f.read(), 128), ("alg", "seed", "v"), "key file")
    want(k["alg"] == "x25519" and k["v"] == 1 and is_bin(k["seed"], 32), "key file: not x25519")
    sk = k["seed"]
    return sk, nacl.bindings.crypto_scalarmult_base(sk)


# ---- the observer ---------------------------------------------------------------


def frame(channel, body):
    return bytes([FRAME_VERSION, channel]) + body


class Observer:
    def __init__(self, args):
        self.args = args
        self.g = Genesis(args.genesis)
        self.sk, self.pk = read_key(args.key)
        self.stats = {"records": {}, "records_in_blocks": {}, "blocks": 0, "blocks_again": 0,
                      "links": 0, "signatures": 0, "certs_checked": 0, "certs_form_only": 0,
                      "claims_checked": 0, "claims_form_only": 0,
                      "pushes": 0, "records_again": 0, "notices_gossiped": set(),
                      "notices_committed": set(), "zap_admitted": 0, "zap_refused": 0}
        self.chain = Chain(self.g, self.stats)
        self.seen = set()
        self.ctx = zmq.Context.instance()
        # Our ZAP handler first, then the ROUTER it guards ("ZAP rule").
        self.zap = self.ctx.socket(zmq.REP)
        self.zap.linger = 0
        self.zap.bind("inproc://zeromq.zap.01")
        self.router = self.ctx.socket(zmq.ROUTER)
        self.router.linger = 0
        self.router.curve_server = True
        self.router.curve_secretkey = self.sk
        self.router.curve_publickey = self.pk
        self.router.zap_domain = b"warden"
        self.router.setsockopt(zmq.MAXMSGSIZE, (1 << 20) + (64 << 10))
        self.router.bind(args.listen)
        self.dealers = {}
        for spec in args.node:
            name, _, endpoint = spec.partition("=")
            want(name in self.g.by_name and endpoint, "--node %s: no such genesis node" % spec)
            d = self.ctx.socket(zmq.DEALER)
            d.linger = 0
            d.curve_serverkey = self.g.by_name[name]["curve_pk"]
            d.curve_publickey = self.pk
            d.curve_secretkey = self.sk
            d.connect(endpoint)
            self.dealers[name] = d

    def subscribe(self, first):
        body = msgpack.packb({"endpoint": self.args.listen,
                              "from": self.args.from_height if first else 0, "v": 1},
                             use_bin_type=True)
        canonical(body)  # what we send obeys the rules too
        for d in self.dealers.values():
            d.send(frame(CHANNEL_OBSERVE, body), zmq.DONTWAIT)

    def serve_zap(self):
        parts = self.zap.recv_multipart()
        ok = (len(parts) == 7 and parts[0] == b"1.0" and parts[5] == b"CURVE"
              and parts[6] in self.g.by_curve)
        rid = parts[1] if len(parts) > 1 else b""
        if ok:
            self.stats["zap_admitted"] += 1
            user = self.g.by_curve[parts[6]]["sign_pk"].hex().encode()
            self.zap.send_multipart([b"1.0", rid, b"200", b"OK", user, b""])
        else:
            self.stats["zap_refused"] += 1
            self.zap.send_multipart([b"1.0", rid, b"400", b"not a genesis node", b"", b""])

    def receive(self):
        parts = self.router.recv_multipart(copy=False)
        want(len(parts) == 2, "push: CONS_ERR_FRAME_PARTS")
        data = parts[1].bytes
        user = parts[1].get("User-Id")
        sender = bytes.fromhex(user) if user else b""
        want(sender in self.g.by_sign, "push from a key no genesis node holds")
        source = self.g.by_sign[sender]["name"]
        want(len(data) >= 2, "push from %s: CONS_ERR_FRAME_SHORT" % source)
        want(data[0] == FRAME_VERSION, "push from %s: CONS_ERR_FRAME_VERSION" % source)
        want(data[1] == CHANNEL_OBSERVE, "push from %s on channel %d" % (source, data[1]))
        msg = canonical(data[2:], 1 << 20)
        want(isinstance(msg, dict), "push from %s: not a map" % source)
        self.stats["pushes"] += 1
        if "records" in msg:
            schema(msg, ("records", "v"), "records push")
            want(msg["v"] == 1 and isinstance(msg["records"], list)
                 and 1 <= len(msg["records"]) <= 64, "records push: form")
            for data in msg["records"]:
                self.record(data, source)
        else:
            schema(msg, ("blocks", "tip", "v"), "blocks push")
            want(msg["v"] == 1 and isinstance(msg["blocks"], list)
                 and 1 <= len(msg["blocks"]) <= 16 and is_uint(msg["tip"]), "blocks push: form")
            for entry in msg["blocks"]:
                want(isinstance(entry, list) and len(entry) == 2 and is_bin(entry[0])
                     and is_bin(entry[1]), "blocks push: entry is not [block, cert]")
                self.chain.add(entry[0], entry[1], source)

    def record(self, data, source):
        rid = hashlib.sha256(data).digest()
        if rid in self.seen:
            self.stats["records_again"] += 1
            return
        env = open_envelope(data, self.g.chain)
        want(self.g.signer_known(env["from"]),
             "record from %s: signed by %s, not a genesis node or signer"
             % (source, env["from"].hex()[:8]))
        self.seen.add(rid)
        self.stats["signatures"] += 1
        self.stats["records"][env["type"]] = self.stats["records"].get(env["type"], 0) + 1
        if env["type"] == "notice":
            self.stats["notices_gossiped"].add(notice_text(env))

    def done(self):
        committed = set(self.args.expect_notice or []) | set(self.args.expect_gossiped or [])
        return (self.stats["blocks"] >= self.args.min_blocks
                and set(self.args.expect_gossiped or []) <= self.stats["notices_gossiped"]
                and committed <= self.stats["notices_committed"])

    def run(self):
        poller = zmq.Poller()
        poller.register(self.zap, zmq.POLLIN)
        poller.register(self.router, zmq.POLLIN)
        deadline = time.monotonic() + self.args.timeout
        self.subscribe(True)
        renew = time.monotonic() + RENEW_S
        if self.args.misbehave:
            bad = msgpack.packb({"t": 4, "v": 1}, use_bin_type=True)  # a gossip GRAFT
            for d in self.dealers.values():
                d.send(frame(CHANNEL_GOSSIP, bad), zmq.DONTWAIT)
        while not self.done():
            now = time.monotonic()
            if now >= deadline:
                raise Failure("timeout: %d blocks (wanted %d), notices gossiped %s, committed %s"
                              % (self.stats["blocks"], self.args.min_blocks,
                                 sorted(self.stats["notices_gossiped"]),
                                 sorted(self.stats["notices_committed"])))
            if now >= renew:
                self.subscribe(False)
                renew = now + RENEW_S
            for sock, _ in poller.poll(200):
                if sock is self.zap:
                    self.serve_zap()
                else:
                    self.receive()

    def summary(self):
        s = self.stats
        heights = sorted(self.chain.blocks)
        print("observer %s: chain %s" % (self.pk.hex()[:16], self.g.chain.hex()[:16]))
        print("  records gossiped: %d (%s), %d copies again"
              % (sum(s["records"].values()),
                 ", ".join("%s %d" % kv for kv in sorted(s["records"].items())) or "none",
                 s["records_again"]))
        print("  blocks: %d (heights %s..%s), %d prev links checked, %d again"
              % (s["blocks"], heights[0] if heights else "-", heights[-1] if heights else "-",
                 s["links"], s["blocks_again"]))
        print("  records in blocks: %s"
              % (", ".join("%s %d" % kv for kv in sorted(s["records_in_blocks"].items()))
                 or "none"))
        print("  certificates: %d with every signature and the weight checked, %d form only"
              % (s["certs_checked"], s["certs_form_only"]))
        if self.g.vrf:
            print("  proposer claims: %d with the VRF proof checked, %d priority only"
                  % (s["claims_checked"], s["claims_form_only"]))
        print("  notices gossiped %s, committed %s"
              % (sorted(s["notices_gossiped"]), sorted(s["notices_committed"])))
        print("  all %d envelope signatures OK, ZAP admitted %d node connection(s)"
              % (s["signatures"], s["zap_admitted"]))


def check_export(args):
    """Runs the block checks over an export file ("Export file") offline:
    the same checks as for pushed blocks, heights in order."""
    g = Genesis(args.genesis)
    with open(args.export, "rb") as f:
        x = schema(canonical(f.read()), ("blocks", "chain", "genesis", "height", "v"), "export")
    with open(args.genesis, "rb") as f:
        want(x["genesis"] == f.read(), "export: holds another genesis")
    want(x["v"] == 1 and x["chain"] == g.chain and isinstance(x["blocks"], list)
         and x["height"] == len(x["blocks"]), "export: form")
    stats = {"records_in_blocks": {}, "notices_committed": set(), "signatures": 0, "links": 0,
             "blocks": 0, "blocks_again": 0, "certs_checked": 0, "certs_form_only": 0,
             "claims_checked": 0, "claims_form_only": 0}
    chain = Chain(g, stats)
    for entry in x["blocks"]:
        want(isinstance(entry, list) and len(entry) == 2 and is_bin(entry[0])
             and is_bin(entry[1]), "export: entry is not [block, cert]")
        chain.add(entry[0], entry[1], "export")
    print("export %s: %d blocks, %d prev links, certificates %d checked / %d form only, "
          "proposer claims %d checked / %d priority only"
          % (g.chain.hex()[:16], stats["blocks"], stats["links"], stats["certs_checked"],
             stats["certs_form_only"], stats["claims_checked"], stats["claims_form_only"]))
    return 0


def probe(args):
    """Connects with args.key and waits for the handshake's outcome."""
    g = Genesis(args.genesis)
    sk, pk = read_key(args.key)
    name, _, endpoint = args.node[0].partition("=")
    want(name in g.by_name, "--node: no such genesis node")
    ctx = zmq.Context.instance()
    d = ctx.socket(zmq.DEALER)
    d.linger = 0
    d.curve_serverkey = g.by_name[name]["curve_pk"]
    d.curve_publickey = pk
    d.curve_secretkey = sk
    mon = d.get_monitor_socket(zmq.EVENT_HANDSHAKE_SUCCEEDED | zmq.EVENT_HANDSHAKE_FAILED_AUTH)
    d.connect(endpoint)
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        if mon.poll(200):
            event = struct.unpack("=hi", mon.recv_multipart()[0][:6])[0]
            if event == zmq.EVENT_HANDSHAKE_FAILED_AUTH:
                print("probe %s: refused by %s's ZAP handler" % (pk.hex()[:16], name))
                return 0
            print("probe %s: admitted by %s" % (pk.hex()[:16], name))
            return 1
    print("probe %s: no answer from %s" % (pk.hex()[:16], name))
    return 1


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    k = sub.add_parser("keygen")
    k.add_argument("--out", required=True)
    x = sub.add_parser("check-export")
    x.add_argument("--genesis", required=True)
    x.add_argument("export")
    for name in ("run", "probe"):
        r = sub.add_parser(name)
        r.add_argument("--key", required=True)
        r.add_argument("--genesis", required=True)
        r.add_argument("--node", action="append", required=True, help="NAME=ENDPOINT")
        r.add_argument("--timeout", type=float, default=30.0)
        if name == "run":
            r.add_argument("--listen", required=True)
            r.add_argument("--from", dest="from_height", type=int, default=1)
            r.add_argument("--min-blocks", type=int, default=1)
            r.add_argument("--expect-notice", action="append", help="a notice seen committed")
            r.add_argument("--expect-gossiped", action="append",
                           help="a notice seen pushed as a record and committed")
            r.add_argument("--misbehave", action="store_true")
    args = p.parse_args()
    try:
        if args.cmd == "keygen":
            print(keygen(args.out).hex())
            return 0
        if args.cmd == "probe":
            return probe(args)
        if args.cmd == "check-export":
            return check_export(args)
        obs = Observer(args)
        try:
            obs.run()
        finally:
            obs.summary()
        print("OK")
        return 0
    except Failure as err:
        print("FAIL: %s" % err, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
