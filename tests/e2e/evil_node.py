#!/usr/bin/python3
"""A byzantine genesis node that lies about its attestation, for the
end-to-end fault suite (tests/e2e/fault_suite.sh). Written from
docs/PROTOCOL.md ("Signed envelope", "Envelope id", "Evidence body",
"Binary list", "Replay", "Warden's own measurement log", "Gossip",
"Membership (SWIM)", "Blocks and the ledger" / "Database"). It plays the
node whose keys are in STATE_DIR (its real identity and CURVE keys; the
node's wardend must be stopped) and reads its own past evidence from a
ledger.db of any honest node:

  evil_node.py MODE STATE_DIR CHAIN_HEX LEDGER_DB EPOCH_BLOCKS SECONDS TARGET...

  TARGET   ENDPOINT=CURVE_PK_HEX of an honest node

MODE
  measure  forges self-evidence with a wrong measurement: the node's latest
           committed self-evidence, its measurement log rewritten so that the
           wardend binary's entry carries another digest (template hash and
           both registers recomputed, so the log replays), fresh for the
           current epoch (epoch nonce from the ledger's seed), properly
           signed. Only an appraisal against the node policy catches it.
  replay   re-gossips the node's oldest committed self-evidence envelope,
           byte for byte (an old record offered as new).
  badsig   gossips freshly made self-evidence records whose signature has
           one bit flipped (a new record, with a new time, every 250 ms).

Every mode keeps the node alive in the others' membership view (pushes
`alive` about itself at rising incarnations, as tests/scenarios/mesh_peer.py
does) and sends its record(s) in gossip PUBLISH messages to every TARGET
until SECONDS have passed. It prints one line: `MODE ID COUNT` (ID, the hex
id of the record sent: the last one for badsig; COUNT, how many records).
"""
import hashlib
import os
import sqlite3
import struct
import sys
import time

import msgpack
import nacl.bindings
import nacl.signing
import zmq
import zmq.utils.z85

sys.dont_write_bytecode = True  # no __pycache__ in the source tree


def canon(obj):
    """Canonical msgpack: map keys in ascending bytewise order, bin for bytes."""
    def sort(o):
        if isinstance(o, dict):
            return {k: sort(o[k]) for k in sorted(o, key=lambda k: k.encode())}
        if isinstance(o, list):
            return [sort(x) for x in o]
        return o
    return msgpack.packb(sort(obj), use_bin_type=True)


def key_seed(path, alg):
    with open(path, "rb") as f:
        key = msgpack.unpackb(f.read(), raw=False)
    assert key["alg"] == alg and key["v"] == 1, path
    return key["seed"]


def seal(sk, chain, kind, body, corrupt=None):
    digest = hashlib.sha256(b"warden/1\x00" + kind.encode() + b"\x00" + chain + body).digest()
    sig = bytearray(sk.sign(digest).signature)
    if corrupt is not None:
        sig[corrupt % 64] ^= 0x01
    return canon({"body": body, "chain": chain, "from": bytes(sk.verify_key),
                  "sig": bytes(sig), "type": kind, "v": 1})


def own_evidence(db, node_id):
    """The node's committed self-evidence, oldest first: [(id, envelope, body)]."""
    out = []
    for rid, env in db.execute("select id, envelope from records where type = 'evidence' "
                               "and signer = ? order by height, idx", (node_id,)):
        body = msgpack.unpackb(msgpack.unpackb(env, raw=False)["body"], raw=False)
        if body["subject"]["kind"] == "node":
            out.append((bytes(rid), bytes(env), body))
    return out


def rewrite_log(log):
    """The log with entry 0's file digest replaced; template hash and registers redone."""
    data, pos, index = log["records"], 0, 0
    out = bytearray()
    r1, r256 = bytes(20), bytes(32)
    while pos < len(data):
        pcr, = struct.unpack_from("<I", data, pos)
        nlen, = struct.unpack_from("<I", data, pos + 24)
        name = data[pos + 28:pos + 28 + nlen]
        dlen, = struct.unpack_from("<I", data, pos + 28 + nlen)
        tdata = bytearray(data[pos + 32 + nlen:pos + 32 + nlen + dlen])
        pos += 32 + nlen + dlen
        assert name == b"ima-ng", name
        if index == 0:  # u32 len, "sha256:\0", digest
            dl, = struct.unpack_from("<I", tdata, 0)
            assert tdata[4:12] == b"sha256:\x00" and dl == 8 + 32, tdata[:12]
            tdata[12:44] = hashlib.sha256(b"not the binary the policy lists").digest()
        thash = hashlib.sha1(tdata).digest()
        out += struct.pack("<I", pcr) + thash + struct.pack("<I", nlen) + name
        out += struct.pack("<I", len(tdata)) + tdata
        if pcr == log["pcr"]:
            r1 = hashlib.sha1(r1 + thash).digest()
            r256 = hashlib.sha256(r256 + hashlib.sha256(tdata).digest()).digest()
        index += 1
    new = dict(log)
    new["records"] = bytes(out)
    new["sha256"] = r256
    if "sha1" in log:
        new["sha1"] = r1
    return new


def fresh_body(db, node_id, template, prev, epoch_blocks, wrong):
    """Self-evidence for the current epoch, after `prev`, from a template body."""
    tip, = db.execute("select max(height) from blocks").fetchone()
    first = (tip - 1) // epoch_blocks * epoch_blocks + 1
    seed, = db.execute("select seed from blocks where height = ?", (first,)).fetchone()
    body = dict(template)
    body["fresh"] = {"epoch": first, "kind": "epoch", "prev": prev}
    body["nonce"] = hashlib.sha256(bytes(seed) + node_id + prev).digest()
    body["time"] = int(time.time())
    body.pop("quote", None)
    if wrong:
        body["log"] = rewrite_log(template["log"])
    return body


def main():
    if len(sys.argv) < 8 or sys.argv[1] not in ("measure", "replay", "badsig"):
        sys.exit(__doc__)
    mode, state, chain_hex, ledger, epoch_blocks, seconds = sys.argv[1:7]
    targets = sys.argv[7:]
    chain = bytes.fromhex(chain_hex)
    sk = nacl.signing.SigningKey(key_seed(os.path.join(state, "keys/identity.key"), "ed25519"))
    node_id = bytes(sk.verify_key)
    curve_sk = key_seed(os.path.join(state, "keys/curve.key"), "x25519")
    curve_pk = nacl.bindings.crypto_scalarmult_base(curve_sk)
    db = sqlite3.connect("file:%s?mode=ro" % ledger, uri=True, timeout=5)
    mine = own_evidence(db, node_id)
    if not mine:
        sys.exit("no committed self-evidence of this node in %s" % ledger)

    def make(n):
        """The n-th record to send (bytes)."""
        if mode == "replay":
            return mine[0][1]
        last_id, _, last = mine[-1]
        body = canon(fresh_body(db, node_id, last, last_id, int(epoch_blocks), mode == "measure"))
        return seal(sk, chain, "evidence", body, corrupt=n if mode == "badsig" else None)

    ctx = zmq.Context()
    socks = []
    for t in targets:
        endpoint, server_hex = t.split("=", 1)
        s = ctx.socket(zmq.DEALER)
        s.linger = 0
        s.sndhwm = 10000
        s.curve_publickey = zmq.utils.z85.encode(curve_pk)
        s.curve_secretkey = zmq.utils.z85.encode(curve_sk)
        s.curve_serverkey = zmq.utils.z85.encode(bytes.fromhex(server_hex))
        s.connect(endpoint)
        socks.append(s)
    inc = int(time.time() * 1000) + 1000
    record = make(0)
    sent = 1
    end = time.time() + float(seconds)
    next_send = 0.0
    while time.time() < end:
        inc += 1
        alive = bytes([1, 1]) + canon({"t": 5, "up": [[1, node_id, inc]], "v": 1})
        now = time.time()
        publish = None
        if now >= next_send:
            next_send = now + 0.25
            if mode == "badsig" and sent > 0 and now > end - float(seconds) + 0.2:
                record = make(sent)  # a new bad record every time
                sent += 1
            publish = bytes([1, 2]) + canon({"records": [record], "t": 1, "v": 1})
        for s in socks:
            try:
                s.send(alive, zmq.NOBLOCK)
                if publish:
                    s.send(publish, zmq.NOBLOCK)
            except zmq.Again:
                pass
        time.sleep(0.1)
    print(mode, hashlib.sha256(record).hexdigest(), sent, flush=True)
    for s in socks:
        s.close()
    ctx.term()


if __name__ == "__main__":
    main()
