#!/usr/bin/python3
"""Independent implementation of Warden's ledger blocks and reputation
function (docs/PROTOCOL.md "Blocks and the ledger", "Verifier committees",
"Reputation") in Python, using python3-msgpack and python3-nacl only (and
the independent VRF and sortition of vrf_vectors.py and
sortition_vectors.py). It writes the known answers the C unit tests check
(tests/vectors/ledger.txt): RFC 6962 Merkle roots, a genesis of four nodes
with real VRF keys, seventeen certified blocks carrying notes, an
equivocation, evidence records and committee verdicts with real sortition
claims (one record certified by two committee ACCEPTs, one rejected through
escalation, whose node leaves the validator set of the next epoch until
its next record is certified, one certified through escalation against a
lying verifier, who gets a miss), a host's failed challenge rejected
through escalation (a failure of the node that attested it, which stays a
validator), a fifth node's join sponsored by a member, its self-evidence
certified (a validator from the next epoch whose reference table holds
that), and its leave (out of the set from the epoch whose reference table
holds it), a member's key rotation (its row keeps its counters under the
new keys, its old key still in the set fixed before the rotation, the new
key signing from the first set fixed after it), with the validator-set and
reputation hashes the rules give, and the reputation table after them. ctest re-runs it and compares.

With --vrf it writes instead a short chain in VRF proposer mode
(tests/vectors/ledger_vrf.txt; docs/PROTOCOL.md "Block", "Proposer"): four
nodes, proposer_vrf = 1, proposers = 3, v2 blocks whose proposer is the
selected node with the lowest priority, one block claimed in round 1, one
claimed in round 0 but committed in round 1.

Usage: ledger_vectors.py [--vrf] [OUTPUT]   (default: standard output)
"""
import hashlib
import struct
import sys

from nacl.signing import SigningKey

from genesis_vectors import PARAMS, canonical, genesis, seal
import sortition_vectors
import vrf_vectors

EPOCH_BLOCKS, LOOKBACK = 2, 1
C_NEXT = 4  # the evidence number of node C's second record (see main)
DECAY_DIV, QUARANTINE, SOFTWARE_BP, FLOOR, CAP, BP = 4, 4, 5000, 1, 100, 10000


def is_software(protection):
    """The software tier: "software", or a longer name ending in "-software"
    (a software PKCS#11 token)."""
    return protection == "software" or (len(protection) > 9 and protection.endswith("-software"))


def sha(data):
    return hashlib.sha256(data).digest()


def mth(ids):
    """RFC 6962 Merkle tree hash over record ids."""
    if not ids:
        return sha(b"")
    if len(ids) == 1:
        return sha(b"\x00" + ids[0])
    k = 1
    while k * 2 < len(ids):
        k *= 2
    return sha(b"\x01" + mth(ids[:k]) + mth(ids[k:]))


def vrf_public(seed):
    """The VRF public key of a 32-byte seed (RFC 9381 §5.1: x from the
    RFC 8032 expansion of the seed, Y = x·B)."""
    x, _ = vrf_vectors.secret(seed)
    return vrf_vectors.encode(vrf_vectors.mul(x, vrf_vectors.BASE))


def vrf_seed(index):
    return bytes([0x40 + index]) * 32


def node(index, protection):
    key = SigningKey(bytes([index]) * 32)
    body = canonical({"v": 1, "name": "node-%d" % index, "key_protection": protection,
                      "created": 1767225600 + index, "sign_pk": bytes(key.verify_key),
                      "vrf_pk": vrf_public(vrf_seed(index)),
                      "curve_pk": bytes([0x80 + index]) * 32})
    return key, seal(key, "node-cert", bytes(32), body), protection, index


# ---- membership transactions (docs/PROTOCOL.md "Membership transactions") ---

ROWS_MAX = 1024


def join_record(sponsor, newcomer_key, newcomer_cert, chain):
    """A join sealed by the sponsor around the newcomer's own join-request
    (signed by the newcomer, for this chain) holding its certificate."""
    request = seal(newcomer_key, "join-request", chain, canonical({"cert": newcomer_cert, "v": 1}))
    return seal(sponsor, "join", chain, canonical({"request": request, "v": 1}))


def leave_record(key, chain):
    return seal(key, "leave", chain, canonical({"node": bytes(key.verify_key), "v": 1}))


def rotated_cert(index, name, protection):
    """A new certificate under the name of an existing member: identity,
    VRF and CURVE keys all new (those of node(index))."""
    key = SigningKey(bytes([index]) * 32)
    body = canonical({"v": 1, "name": name, "key_protection": protection,
                      "created": 1767225600 + index, "sign_pk": bytes(key.verify_key),
                      "vrf_pk": vrf_public(vrf_seed(index)),
                      "curve_pk": bytes([0x80 + index]) * 32})
    return key, seal(key, "node-cert", bytes(32), body)


def rotate_record(old_key, new_key, new_cert, chain):
    """A rotate sealed by the member's current key around a rotate-request
    signed by the new key, naming the member: both keys consent."""
    request = seal(new_key, "rotate-request", chain,
                   canonical({"cert": new_cert, "node": bytes(old_key.verify_key), "v": 1}))
    return seal(old_key, "rotate", chain, canonical({"request": request, "v": 1}))


def envelope_ok(env, key_pk):
    """The signing rule: Ed25519 over SHA-256("warden/1" 0 type 0 chain body)."""
    from nacl.signing import VerifyKey
    digest = sha(b"warden/1\x00" + env["type"].encode() + b"\x00" + env["chain"] + env["body"])
    VerifyKey(key_pk).verify(digest, env["sig"])  # raises when it does not verify
    return True


# ---- verifier committees (docs/PROTOCOL.md "Verifier committees") ----------

CASE_EPOCHS = 2
OPEN, ESCALATED, CERTIFIED, REJECTED = "open", "escalated", "certified", "rejected"
CLAIM_NAMES = ("boot", "configuration", "executables", "freshness", "key_protection")


def evidence_body(attester, protection, n, time):
    """A node's periodic self-evidence (docs/PROTOCOL.md "Evidence body"): an
    empty log delta whose sha256 register is n repeated."""
    return canonical({"v": 1, "attester": attester,
                      "fresh": {"kind": "epoch", "epoch": 1, "prev": bytes(32)},
                      "key_protection": protection,
                      "log": {"offset": 0, "pcr": 10, "records": b"", "sha256": bytes([n]) * 32,
                              "start": 0},
                      "nonce": sha(bytes([n]) * 32), "subject": {"kind": "node", "node": attester},
                      "tamper": "clear", "time": time})


def host_evidence_body(attester, protection, host, n, time):
    """A node's evidence about its compute host (docs/PROTOCOL.md "Evidence
    body"): one challenge whose file item failed, challenge freshness."""
    return canonical({"v": 1, "attester": attester,
                      "challenge": {"deadline": time + 5, "issued": time,
                                    "items": [{"item": "file:/etc/ssh/sshd_config",
                                               "result": "fail", "why": "digest differs"}],
                                    "nonce": bytes([n]) * 32, "outcome": "fail"},
                      "fresh": {"kind": "challenge"}, "key_protection": protection,
                      "nonce": sha(bytes([n]) * 32),
                      "subject": {"host": host, "kind": "host", "node": attester},
                      "tamper": "clear", "time": time})


def verdict_body(evidence_id, subject, accept, time):
    """A verdict (docs/PROTOCOL.md "Verdict body"): every claim affirming, or
    executables contraindicated (tier by the tier rule). subject: a node id,
    or the evidence's subject map."""
    claims = {k: "affirming" for k in CLAIM_NAMES}
    if not accept:
        claims["executables"] = "contraindicated"
    if not isinstance(subject, dict):
        subject = {"kind": "node", "node": subject}
    return canonical({"v": 1, "claims": claims, "evidence": evidence_id,
                      "failures": {"count": 0 if accept else 1, "first": []},
                      "policy": bytes(32), "subject": subject,
                      "tier": "affirming" if accept else "contraindicated", "time": time})


def sortition_claim(seed32, chain, epoch_seed, epoch_height, evidence_id, w, total, tau):
    """The verifier's claim {count, priority, proof} (docs/PROTOCOL.md
    "Sortition", role 2)."""
    alpha = sortition_vectors.alpha(chain, "verifier", epoch_seed, epoch_height, 0, evidence_id)
    pk, pi, _ = vrf_vectors.prove(seed32, alpha)
    beta = vrf_vectors.verify(pk, alpha, pi)
    j = sortition_vectors.count(w, total, tau, beta)
    return {"count": j, "priority": sortition_vectors.priority(beta, j), "proof": pi}


def decide(votes, vset, subject):
    """The rule over votes (signer, accept, committee) in chain order; once
    escalated, more than 2/3 of the weight of the validators other than the
    subject node decides."""
    committee = [v for v in votes if v[2]]
    if all(a for _, a, _ in committee):
        return CERTIFIED if len(committee) >= 2 else OPEN
    weight = dict(vset)
    total = sum(w for pk, w in weight.items() if pk != subject)
    acc = sum(weight.get(s, 0) for s, a, _ in votes if a)
    rej = sum(weight.get(s, 0) for s, a, _ in votes if not a)
    if total and 3 * acc > 2 * total:
        return CERTIFIED
    if total and 3 * rej > 2 * total:
        return REJECTED
    return ESCALATED


def precommit_sig(key, chain, height, block_id, round_=0):
    body = canonical({"block": block_id, "height": height, "round": round_, "v": 1})
    digest = sha(b"warden/1\x00precommit\x00" + chain + body)
    return key.sign(digest).signature


def cert_fields(cert_env):
    import msgpack
    return msgpack.unpackb(msgpack.unpackb(cert_env, raw=False)["body"], raw=False)


def new_row(pk, protection, joined):
    return {"id": pk, "tier_bp": SOFTWARE_BP if is_software(protection) else BP,
            "passed": 0, "failed": 0, "made": 0, "possible": 0, "last_seen": 0,
            "quarantine_until": 0, "slashes": 0, "hits": 0, "misses": 0, "joined": joined,
            "left": 0, "rotated": 0}


class Rep:
    def __init__(self, nodes, chain):
        self.height = 0
        self.chain = chain
        self.rows = [new_row(bytes(k.verify_key), p, 0) for k, _, p, _ in nodes]
        self.certs = [cert_fields(c) for _, c, _, _ in nodes]  # per row
        self.cases = {}  # evidence id -> {epoch, subject, votes, state}, in commit order
        self.slashed = set()  # (validator, height, round, type) already slashed
        self.outcomes = []  # (height, evidence id, state) of every decided case
        self.status = {}  # node id -> outcome of its latest decided evidence
        self.retired = {}  # key a row held before a rotate -> that row

    def find(self, pk):
        return next((r for r in self.rows if r["id"] == pk), None)

    def find_any(self, pk):
        """The row that holds pk, or held it before a rotate."""
        return self.find(pk) or self.retired.get(pk)

    def used(self, field, pk):
        """Whether a row holds or held (before a rotate) pk as field."""
        return any(c[field] == pk for c in self.certs) or any(
            c[field] == pk for c in self.retired_certs())

    def retired_certs(self):
        return [c for c in getattr(self, "_retired_certs", [])]

    def score(self, r, epoch):
        if epoch < r["quarantine_until"]:
            return 0
        pass_ = (r["passed"] + 1) * BP // (r["passed"] + r["failed"] + 2)
        part = (r["made"] + 1) * BP // (r["possible"] + 2)
        acc = (r["hits"] + 1) * BP // (r["hits"] + r["misses"] + 1)
        return pass_ * part // BP * acc // BP * r["tier_bp"] // BP

    def member(self, pk):
        r = self.find(pk)
        return r is not None and r["left"] == 0

    def excluded(self, r, epoch):
        """Out of the set: quarantined; left; joined through the ledger and
        nothing about it decided yet; or the latest decided attestation of
        the node was rejected (contraindicated)."""
        return (epoch < r["quarantine_until"] or r["left"] != 0
                or (r["joined"] != 0 and r["id"] not in self.status)
                or self.status.get(r["id"]) == REJECTED)

    def weights(self, epoch):
        out = [(r["id"], min(CAP, max(FLOOR, self.score(r, epoch) // 100)))
               for r in self.rows if not self.excluded(r, epoch)]
        if out:
            return out
        # nobody left: the nodes not left that are genesis nodes or have a
        # decided attestation, else every node not left, each weighing 1
        out = [(r["id"], 1) for r in self.rows
               if r["left"] == 0 and (r["joined"] == 0 or r["id"] in self.status)]
        return out or [(r["id"], 1) for r in self.rows if r["left"] == 0]

    def encode(self):
        keys = ["failed", "id", "last_seen", "made", "passed", "possible", "quarantine_until",
                "slashes", "tier_bp"]
        rows = []
        for r in self.rows:
            row = {k: r[k] for k in keys}
            # only when non-zero
            row.update({k: r[k] for k in ("hits", "misses", "joined", "left", "rotated") if r[k]})
            rows.append(row)
        return canonical({"height": self.height, "v": 1, "nodes": rows})

    def join(self, h, env, body):
        """A join record (the sponsor is a member by rule 5): the request is
        a join-request of this chain signed by the certificate it holds, for
        a key with no row, a name and keys no row has, below the row limit."""
        import msgpack
        assert self.member(env["from"]) and set(body) == {"request", "v"} and body["v"] == 1
        req = msgpack.unpackb(body["request"], raw=False)
        assert req["chain"] == self.chain and req["type"] == "join-request"
        rbody = msgpack.unpackb(req["body"], raw=False)
        assert set(rbody) == {"cert", "v"} and rbody["v"] == 1
        cenv = msgpack.unpackb(rbody["cert"], raw=False)
        cert = cert_fields(rbody["cert"])
        assert cenv["type"] == "node-cert" and cenv["chain"] == bytes(32)
        assert cenv["from"] == cert["sign_pk"] and envelope_ok(cenv, cert["sign_pk"])
        assert req["from"] == cert["sign_pk"] and envelope_ok(req, cert["sign_pk"])
        assert not self.used("sign_pk", cert["sign_pk"]), "a key never joins twice"
        assert all(c["name"] != cert["name"] for c in self.certs)
        assert not self.used("vrf_pk", cert["vrf_pk"]) and not self.used("curve_pk", cert["curve_pk"])
        assert len(self.rows) < ROWS_MAX
        self.rows.append(new_row(cert["sign_pk"], cert["key_protection"], h))
        self.certs.append(cert)

    def rotate(self, h, env, body):
        """A rotate record signed by a member's current key: the request is
        a rotate-request of this chain signed by the new certificate's key
        and naming the signer; the name stays; no row holds or held any of
        the three new keys. The row keeps every counter and its status."""
        import msgpack
        assert set(body) == {"request", "v"} and body["v"] == 1
        req = msgpack.unpackb(body["request"], raw=False)
        assert req["chain"] == self.chain and req["type"] == "rotate-request"
        rbody = msgpack.unpackb(req["body"], raw=False)
        assert set(rbody) == {"cert", "node", "v"} and rbody["v"] == 1
        cenv = msgpack.unpackb(rbody["cert"], raw=False)
        cert = cert_fields(rbody["cert"])
        assert cenv["type"] == "node-cert" and cenv["chain"] == bytes(32)
        assert cenv["from"] == cert["sign_pk"] and envelope_ok(cenv, cert["sign_pk"])
        assert req["from"] == cert["sign_pk"] and envelope_ok(req, cert["sign_pk"])
        assert rbody["node"] == env["from"]
        r = self.find(env["from"])
        assert r is not None and r["left"] == 0, "not a member (or rotated earlier in the block)"
        i = self.rows.index(r)
        assert self.certs[i]["name"] == cert["name"]
        assert not any(self.used(f, cert[f]) for f in ("sign_pk", "vrf_pk", "curve_pk"))
        self._retired_certs = self.retired_certs() + [self.certs[i]]
        self.retired[r["id"]] = r
        if r["id"] in self.status:
            self.status[cert["sign_pk"]] = self.status.pop(r["id"])
        r["id"] = cert["sign_pk"]
        r["tier_bp"] = SOFTWARE_BP if is_software(cert["key_protection"]) else BP
        r["rotated"] = h
        self.certs[i] = cert

    def leave(self, h, env, body):
        assert set(body) == {"node", "v"} and body["v"] == 1 and body["node"] == env["from"]
        assert self.member(env["from"])
        assert sum(1 for r in self.rows if r["left"] == 0) > 1, "the last member may not leave"
        self.find(env["from"])["left"] = h

    def committee_verdict(self, h, env, body, prev_set):
        """One committee-verdict record of block h (assumed valid by the
        block rules; the asserts catch a vector that is not)."""
        import msgpack
        cv = msgpack.unpackb(body, raw=False)
        verdict = msgpack.unpackb(cv["verdict"], raw=False)
        epoch = (h - 1) // EPOCH_BLOCKS
        assert cv["epoch"] in (epoch, epoch - 1)
        case = self.cases[verdict["evidence"]]
        assert case["state"] in (OPEN, ESCALATED) and verdict["subject"] == case["subject"], (h, case, verdict["subject"])
        signer = env["from"]
        assert signer != case["subject"]["node"] and all(s != signer for s, _, _ in case["votes"])
        committee = "claim" in cv
        assert committee or (case["state"] == ESCALATED and signer in dict(prev_set))
        accept = verdict["tier"] in ("affirming", "warning")
        case["votes"].append((signer, accept, committee))
        case["state"] = decide(case["votes"], prev_set, case["subject"]["node"])
        if case["state"] not in (CERTIFIED, REJECTED):
            return
        certified = case["state"] == CERTIFIED
        self.outcomes.append((h, verdict["evidence"], case["state"]))
        for s, a, _ in case["votes"]:
            r = self.find_any(s)
            if r:
                r["hits" if a == certified else "misses"] += 1
        # the subject's node: the node itself, or the node that attested
        # the host (subject.node): it answers for the host it boots; only a
        # node subject sets last_seen and the status
        r = self.find_any(case["subject"]["node"])
        if r:
            r["passed" if certified else "failed"] += 1
            if case["subject"]["kind"] == "node":
                r["last_seen"] = h
                self.status[r["id"]] = case["state"]

    def apply(self, block, records, last_cert, prev_set):
        import msgpack
        h = block
        epoch = (h - 1) // EPOCH_BLOCKS
        if h > 1 and (h - 1) % EPOCH_BLOCKS == 0:
            for r in self.rows:
                for k in ("passed", "failed", "made", "possible", "hits", "misses"):
                    r[k] -= r[k] // DECAY_DIV
        self.cases = {i: c for i, c in self.cases.items() if c["epoch"] + CASE_EPOCHS >= epoch}
        if h > 1 and last_cert:
            signers = {i for i, _ in msgpack.unpackb(last_cert, raw=False)["sigs"]}
            for i, (pk, _) in enumerate(prev_set):
                r = self.find(pk)
                if r:
                    r["possible"] += 1
                    if i in signers:
                        r["made"] += 1
                        r["last_seen"] = h
        members = {r["id"] for r in self.rows if r["left"] == 0}  # as of block h - 1
        for rec in records:
            env = msgpack.unpackb(rec, raw=False)
            body = msgpack.unpackb(env["body"], raw=False)
            assert env["chain"] == self.chain and env["from"] in members  # rule 5
            if env["type"] == "equivocation":
                r = self.find_any(body["validator"])
                # one slash per (validator, height, round, vote type): the
                # same equivocation reported by another node changes nothing
                key = (body["validator"], body["height"], body["round"], body["type"])
                if r and key not in self.slashed:
                    self.slashed.add(key)
                    r["passed"] = 0
                    r["made"] = 0
                    r["slashes"] += 1
                    r["quarantine_until"] = max(r["quarantine_until"],
                                                (h - 1) // EPOCH_BLOCKS + 1 + QUARANTINE)
            elif env["type"] == "evidence":
                self.cases[sha(rec)] = {"epoch": epoch, "subject": body["subject"], "votes": [],
                                        "state": OPEN}
                if body["subject"]["kind"] == "node":
                    r = self.find(body["subject"]["node"])
                    if r:
                        r["last_seen"] = h
            elif env["type"] == "committee-verdict":
                self.committee_verdict(h, env, env["body"], prev_set)
            elif env["type"] == "join":
                self.join(h, env, body)
            elif env["type"] == "leave":
                self.leave(h, env, body)
            elif env["type"] == "rotate":
                self.rotate(h, env, body)
            # plain "verdict" records change nothing
        self.height = h


def validators_hash(vset):
    return sha(canonical([[pk, w] for pk, w in vset]))


def main():
    out = open(sys.argv[1], "w") if len(sys.argv) > 1 else sys.stdout
    w = out.write
    w("# Warden ledger known answers, generated by tests/vectors/ledger_vectors.py\n")
    w("# (independent Python implementation of docs/PROTOCOL.md \"Blocks and the ledger\",\n")
    w("# \"Verifier committees\" and \"Reputation\").\n")
    ids = [sha(bytes([i])) for i in range(7)]
    for n in range(8):
        w("merkle_%d=%s\n" % (n, mth(ids[:n]).hex()))

    nodes = sorted((node(i, "tpm" if i == 2 else "software") for i in (1, 2, 3, 4)),
                   key=lambda n: bytes(n[0].verify_key))
    params = dict(PARAMS, epoch_blocks=EPOCH_BLOCKS, seed_lookback=LOOKBACK)
    gen = genesis([c for _, c, _, _ in nodes], [], params)
    chain = sha(gen)
    w("genesis=%s\nchain_id=%s\n" % (gen.hex(), chain.hex()))
    keys = [k for k, _, _, _ in nodes]
    pks = [bytes(k.verify_key) for k in keys]
    all_pks = list(pks)  # and the nodes that join
    genesis_set = [(pk, 1) for pk in pks]

    rep = Rep(nodes, chain)
    sets = {}
    seeds = {}  # height -> block seed

    def vset(h):
        e = (h - 1) // EPOCH_BLOCKS
        if e * EPOCH_BLOCKS <= LOOKBACK:
            return genesis_set
        return sets[e]

    def note(signer, n):
        return seal(keys[signer], "note", chain, canonical({"n": n}))

    def equivocation(signer, culprit, height):
        a, b = bytes([0xaa]) * 32, bytes([0xbb]) * 32
        body = canonical({"block_a": a, "block_b": b, "height": height, "round": 0,
                          "sig_a": precommit_sig(keys[culprit], chain, height, a),
                          "sig_b": precommit_sig(keys[culprit], chain, height, b),
                          "type": "precommit", "v": 1,
                          "validator": bytes(keys[culprit].verify_key)})
        return seal(keys[signer], "equivocation", chain, body)

    def evidence(attester, n):
        body = evidence_body(pks[attester], nodes[attester][2], n, 1767225600 + n)
        env = seal(keys[attester], "evidence", chain, body)
        return env, sha(env)

    def claim_of(signer, ev, epoch):
        """signer's sortition claim as a verifier of ev in epoch (count 0:
        not selected)."""
        first = epoch * EPOCH_BLOCKS + 1
        eset = dict(vset(first))
        return sortition_claim(vrf_seed(nodes[signer][3]), chain, seeds[first], first, ev,
                               eset.get(pks[signer], 0), sum(eset.values()), PARAMS["verifiers"])

    def cverdict(signer, ev, subject, accept, epoch, committee):
        """A committee verdict; committee: with signer's claim for committee
        epoch `epoch` (its set's weights), else an escalation verdict.
        subject: a node index, or the evidence's subject map."""
        about = subject if isinstance(subject, dict) else all_pks[subject]
        body = {"epoch": epoch, "v": 1, "verdict": verdict_body(ev, about, accept, 1767225700)}
        if committee:
            claim = claim_of(signer, ev, epoch)
            assert claim["count"] > 0, "not selected"
            body["claim"] = claim
        return seal(keys[signer], "committee-verdict", chain, canonical(body))

    # Roles: A the hardware (tpm) node, Q a software node that equivocates
    # (quarantined from epoch 1 on), B a lying software verifier, C the
    # last one. Epoch 0 weighs every node 1 (W = 4 <= tau: every node is
    # selected once); epoch 1 (from the table after block 1) A 25, B 12,
    # C 12 and no Q. C's evidence is rejected in block 3, so epoch 2 (from
    # the table after block 3) is A and B only; C's next evidence is
    # certified in block 5 by A and B (claims of epoch 1), so epoch 3 (from
    # the table after block 5) has C back.
    A = next(i for i, n in enumerate(nodes) if n[2] == "tpm")
    Q, B, C = [i for i in range(4) if i != A]
    ev_q, id_q = evidence(Q, 1)  # good: escalated by B's lie, certified in block 4
    ev_x, id_x = evidence(C, 2)  # bad: rejected through escalation in block 3
    ev_b, id_b = evidence(B, 3)  # good: certified by two committee ACCEPTs in block 3
    # C's next evidence: certified in block 5 (n chosen so that both A and
    # B are selected in epoch 1)
    ev_c, id_c = evidence(C, C_NEXT)

    # Membership and a host (blocks 8..13): in block 8, A sponsors the join
    # of N (a fifth, software node), and B's host fails a challenge: A's
    # committee REJECT (claim of epoch 3) escalates the record and A alone
    # holds more than 2/3 of the weight of epoch 3 besides B's, so it is
    # rejected and counts as B's failure; B's own status stays certified,
    # so B stays in the set.
    # In block 9 N's self-evidence is certified by two committee ACCEPTs
    # (claims of epoch 3), so epoch 5 (from the table after block 9) has N;
    # N leaves in block 11, so epoch 6 (from the table after block 11) has
    # it no more.
    n_node = node(5, "software")
    N = len(nodes)  # N's index in keys, pks, all_pks
    keys.append(n_node[0])
    all_pks.append(bytes(n_node[0].verify_key))
    host_b = {"host": "host-b", "kind": "host", "node": pks[B]}
    r_node = rotated_cert(7, "node-%d" % nodes[C][3], "tpm")
    keys.append(r_node[0])  # signs precommits once in a set

    def host_evidence(attester, host, n):
        body = host_evidence_body(pks[attester], nodes[attester][2], host, n, 1767225600 + n)
        env = seal(keys[attester], "evidence", chain, body)
        return env, sha(env)

    def n_evidence(n):
        body = evidence_body(all_pks[N], "software", n, 1767225600 + n)
        env = seal(keys[N], "evidence", chain, body)
        return env, sha(env)

    def selected(ev, signers, epoch):
        return all(claim_of(i, ev, epoch)["count"] > 0 for i in signers)

    def host_case():
        n = 0x20  # the first n whose record A verifies in epoch 3
        while not selected(host_evidence(B, "host-b", n)[1], [A], 3):
            n += 1
        return host_evidence(B, "host-b", n)

    def n_case():
        n = 0x30  # the first n whose record A and C both verify in epoch 3
        while not selected(n_evidence(n)[1], [A, C], 3):
            n += 1
        return n_evidence(n)

    cases = {}

    def block8():
        cases["host"] = host_case()
        ev_h, id_h = cases["host"]
        return [join_record(keys[A], n_node[0], n_node[1], chain), ev_h,
                cverdict(A, id_h, host_b, False, 3, True)]

    def block9():
        cases["n"] = n_case()
        ev_n, id_n = cases["n"]
        return [ev_n, cverdict(A, id_n, N, True, 3, True), cverdict(C, id_n, N, True, 3, True)]

    plan = [  # (records of height h, signers skipped by set index)
        (lambda: [note(0, 1), note(1, 2), equivocation(A, Q, 1), ev_q, ev_x], {3}),
        (lambda: [cverdict(A, id_q, Q, True, 0, True), cverdict(B, id_q, Q, False, 0, True),
                  cverdict(A, id_x, C, False, 0, True), cverdict(Q, id_x, C, False, 0, True)],
         set()),
        (lambda: [note(2, 3), cverdict(B, id_x, C, False, 1, False), ev_b,
                  cverdict(A, id_b, B, True, 0, True), cverdict(C, id_b, B, True, 0, True)], {1}),
        # C reports Q's equivocation of block 1 late, under its own key: a
        # second record of the same equivocation, stored but not slashed again
        (lambda: [note(3, 4), cverdict(C, id_q, Q, True, 1, False), equivocation(C, Q, 1)],
         set()),
        (lambda: [ev_c, cverdict(A, id_c, C, True, 1, True), cverdict(B, id_c, C, True, 1, True)],
         set()),
        (lambda: [], set()),
        (lambda: [], set()),
        (block8, set()),
        (block9, set()),
        (lambda: [note(0, 5)], set()),
        (lambda: [leave_record(keys[N], chain)], set()),
        (lambda: [note(1, 6)], set()),
        (lambda: [note(2, 7)], set()),
        # C rotates its keys in block 14 (a tpm-protected certificate under
        # its name); the set of epoch 7 (blocks 15, 16), fixed after block
        # 13, still names C's old key, which signs its precommits; R signs
        # a note in block 15 and its first precommits in epoch 8 (blocks 17,
        # 18: from the table after block 15)
        (lambda: [rotate_record(keys[C], r_node[0], r_node[1], chain)], set()),
        (lambda: [seal(r_node[0], "note", chain, canonical({"n": 8}))], set()),
        (lambda: [], set()),
        (lambda: [], set()),
    ]
    prev, seed, last_cert = bytes(32), chain, b""
    for i, (make, skip) in enumerate(plan):
        h = i + 1
        records = make()
        seed = sha(seed + prev + struct.pack(">Q", h))
        s = vset(h)
        block = canonical({
            "height": h, "last_cert": last_cert, "prev": prev, "proposer": s[0][0],
            "records": records, "records_root": mth([sha(r) for r in records]),
            "reputation_hash": sha(rep.encode()), "seed": seed, "time": 1767225600000 + h * 1000,
            "v": 1, "validators_hash": validators_hash(s)})
        bid = sha(block)
        sigs = [[j, precommit_sig(next(k for k in keys if bytes(k.verify_key) == pk), chain, h, bid)]
                for j, (pk, _) in enumerate(s) if j not in skip]
        cert = canonical({"block": bid, "height": h, "round": 0, "sigs": sigs, "v": 1})
        rep.apply(h, records, last_cert, vset(h - 1) if h > 1 else [])
        seeds[h] = seed
        ref = h + LOOKBACK
        if ref % EPOCH_BLOCKS == 0:
            sets[ref // EPOCH_BLOCKS] = rep.weights(ref // EPOCH_BLOCKS)
        w("block_%d=%s\ncert_%d=%s\n" % (h, block.hex(), h, cert.hex()))
        w("validators_%d=%s\n" % (h, validators_hash(s).hex()))
        prev, last_cert = bid, cert
    # the committee outcomes the plan is built for
    assert rep.outcomes == [(3, id_x, REJECTED), (3, id_b, CERTIFIED), (4, id_q, CERTIFIED),
                            (5, id_c, CERTIFIED), (8, cases["host"][1], REJECTED),
                            (9, cases["n"][1], CERTIFIED)], rep.outcomes
    # the host's failure is B's (decayed at blocks 9 and 11: 1 stays 1), and
    # B stays a validator: its own status is its certified record
    assert rep.find(pks[B])["failed"] == 1 and rep.status[pks[B]] == CERTIFIED
    assert pks[B] in dict(sets[5]) and pks[B] in dict(sets[6])
    # N: a member from block 9, a validator in epoch 5 only, left at 11
    n_row = rep.find(all_pks[N])
    assert n_row["joined"] == 8 and n_row["left"] == 11 and n_row["passed"] == 1
    assert all_pks[N] not in dict(sets[4]) and all_pks[N] in dict(sets[5])
    assert all_pks[N] not in dict(sets[6])
    # the validator sets the plan is built for: C out of epoch 2, back in 3
    assert [pk for pk, _ in sets[2]] == [pks[i] for i in sorted((A, B))], sets[2]
    assert [pk for pk, _ in sets[3]] == [pks[i] for i in sorted((A, B, C))], sets[3]
    # two reports of one equivocation: one slash, the first quarantine
    assert rep.find(pks[Q])["slashes"] == 1
    assert rep.find(pks[Q])["quarantine_until"] == 1 + QUARANTINE
    # C's rotation: the same row (counters and status carried over) under
    # the new key, from the tier of the new certificate; the old key in the
    # sets fixed before it (epoch 7), the new one from epoch 8 on
    r_pk = bytes(r_node[0].verify_key)
    r_row = rep.find(r_pk)
    assert r_row is rep.rows[C] and r_row["rotated"] == 14 and r_row["tier_bp"] == BP
    assert rep.find(pks[C]) is None and rep.status[r_pk] == CERTIFIED
    assert r_row["passed"] >= 1 and r_row["possible"] > 0
    assert pks[C] in dict(sets[7]) and r_pk not in dict(sets[7])
    assert r_pk in dict(sets[8]) and pks[C] not in dict(sets[8])
    assert dict(sets[8])[r_pk] >= dict(sets[7])[pks[C]]  # weight kept (tier up)
    w("reputation=%s\n" % rep.encode().hex())
    w("reputation_hash=%s\n" % sha(rep.encode()).hex())


# ---- VRF proposer mode (docs/PROTOCOL.md "Block", "Proposer") ------------

VRF_PROPOSERS = 3  # the genesis `proposers` of the VRF chain (tau, role 1)
# (round of the block's claim, round of its commit certificate) per height
VRF_PLAN = [(0, 0), (0, 0), (1, 1), (0, 1), (0, 0)]


def proposer_claim(seed32, vrf_pk, chain, sort_seed, h, r, w, total):
    """A node's proposer claim for (h, r): {count, priority, proof} and beta."""
    a = sortition_vectors.alpha(chain, "proposer", sort_seed, h, r)
    pk, pi, _ = vrf_vectors.prove(seed32, a)
    assert pk == vrf_pk
    beta = vrf_vectors.verify(pk, a, pi)
    j = sortition_vectors.count(w, total, VRF_PROPOSERS, beta)
    return {"count": j, "priority": sortition_vectors.priority(beta, j), "proof": pi}, beta


def vrf_main(out):
    w = out.write
    w("# Warden VRF-mode ledger known answers, generated by tests/vectors/ledger_vectors.py --vrf\n")
    w("# (independent Python implementation of docs/PROTOCOL.md \"Block\" v2 and \"Proposer\").\n")
    w("# genesis, chain_id; per height h: block_h, cert_h, the proposer's priority_h and the\n")
    w("# sortition seed sortition_seed_h its claim was proven on; reputation_hash at the end.\n")
    nodes = sorted((node(i, "tpm" if i == 2 else "software") for i in (1, 2, 3, 4)),
                   key=lambda n: bytes(n[0].verify_key))
    params = dict(PARAMS, proposer_vrf=1, proposers=VRF_PROPOSERS)
    gen = genesis([c for _, c, _, _ in nodes], [], params)
    chain = sha(gen)
    w("genesis=%s\nchain_id=%s\n" % (gen.hex(), chain.hex()))
    keys = [k for k, _, _, _ in nodes]
    pks = [bytes(k.verify_key) for k in keys]
    vrf_pks = [cert_fields(c)["vrf_pk"] for _, c, _, _ in nodes]
    vset = [(pk, 1) for pk in pks]  # epoch_blocks 100: the genesis set throughout
    total = len(vset)
    lookback = PARAMS["seed_lookback"]
    rep = Rep(nodes, chain)
    seeds = {0: chain}  # height -> block seed; block 0's is the chain id
    prev, last_cert = bytes(32), b""
    for i, (r, cert_round) in enumerate(VRF_PLAN):
        h = i + 1
        sort_seed = seeds[max(h - lookback, 0)]
        claims = [proposer_claim(vrf_seed(nodes[k][3]), vrf_pks[k], chain, sort_seed, h, r, 1,
                                 total) + (k,) for k in range(len(nodes))]
        selected = [c for c in claims if c[0]["count"] > 0]
        assert selected, "nobody selected at height %d round %d" % (h, r)
        claim, beta, p = min(selected, key=lambda c: c[0]["priority"])
        records = {2: [seal(keys[0], "note", chain, canonical({"n": 1}))],
                   4: [seal(keys[1], "note", chain, canonical({"n": 2})),
                       seal(keys[2], "note", chain, canonical({"n": 3}))]}.get(h, [])
        seed = sha(seeds[h - 1] + struct.pack(">Q", h) + beta)
        block = canonical({
            "claim": canonical(claim), "height": h, "last_cert": last_cert, "prev": prev,
            "proposer": pks[p], "records": records,
            "records_root": mth([sha(x) for x in records]),
            "reputation_hash": sha(rep.encode()), "round": r, "seed": seed,
            "time": 1767225600000 + h * 1000, "v": 2, "validators_hash": validators_hash(vset)})
        bid = sha(block)
        sigs = [[j, precommit_sig(keys[j], chain, h, bid, cert_round)] for j in range(len(keys))]
        cert = canonical({"block": bid, "height": h, "round": cert_round, "sigs": sigs, "v": 1})
        rep.apply(h, records, last_cert, vset if h > 1 else [])
        seeds[h] = seed
        w("block_%d=%s\ncert_%d=%s\n" % (h, block.hex(), h, cert.hex()))
        w("priority_%d=%s\nsortition_seed_%d=%s\n" % (h, claim["priority"].hex(), h,
                                                       sort_seed.hex()))
        prev, last_cert = bid, cert
    w("reputation_hash=%s\n" % sha(rep.encode()).hex())


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--vrf":
        vrf_main(open(sys.argv[2], "w") if len(sys.argv) > 2 else sys.stdout)
    else:
        main()
