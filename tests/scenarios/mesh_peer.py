#!/usr/bin/python3
"""Misbehaving mesh peers for the mesh scenarios (mesh_misbehave.sh), written
from docs/PROTOCOL.md alone ("Key files", "Peer transport", "Membership
(SWIM)", "Gossip", "Signed envelope"):

  mesh_peer.py unknown ENDPOINT SERVER_CURVE_PK_HEX
      connects with a random CURVE key pair (not bound by any certificate)
      and tries to send a few frames; the node's ZAP handler must refuse it.

  mesh_peer.py forger STATE_DIR CHAIN_HEX SECONDS ENDPOINT=CURVE_PK_HEX...
      plays the genesis node whose keys are in STATE_DIR (its real identity
      and CURVE keys): keeps itself alive in everyone's membership view by
      pushing `alive` updates about itself at rising incarnations, and sends
      every node gossip PUBLISH messages whose notice records carry corrupted
      signatures (text "evil-N"), until SECONDS have passed or stdin closes.
"""
import hashlib
import os
import sys
import time

import msgpack
import nacl.bindings
import nacl.signing
import zmq
import zmq.utils.z85


def key_seed(path, alg):
    with open(path, "rb") as f:
        key = msgpack.unpackb(f.read(), raw=False)
    assert key["alg"] == alg and key["v"] == 1, path
    return key["seed"]


def pack(obj):
    return msgpack.packb(obj, use_bin_type=True)


def dealer(ctx, endpoint, public, secret, server):
    s = ctx.socket(zmq.DEALER)
    s.linger = 0
    s.sndhwm = 10000
    s.curve_publickey = zmq.utils.z85.encode(public)
    s.curve_secretkey = zmq.utils.z85.encode(secret)
    s.curve_serverkey = zmq.utils.z85.encode(server)
    s.connect(endpoint)
    return s


def frame(channel, body):
    return bytes([1, channel]) + body


def unknown(endpoint, server_hex):
    ctx = zmq.Context()
    public, secret = zmq.curve_keypair()
    s = ctx.socket(zmq.DEALER)
    s.linger = 0
    s.curve_publickey, s.curve_secretkey = public, secret
    s.curve_serverkey = zmq.utils.z85.encode(bytes.fromhex(server_hex))
    s.connect(endpoint)
    for _ in range(3):
        try:
            s.send(frame(2, pack({"t": 4, "v": 1})), zmq.NOBLOCK)
        except zmq.Again:
            pass
        time.sleep(0.3)
    s.close()
    ctx.term()


def bad_notice(sk, sign_pk, chain, n):
    body = pack({"text": "evil-%d" % n, "time": int(time.time() * 1000)})
    digest = hashlib.sha256(b"warden/1\x00notice\x00" + chain + body).digest()
    sig = bytearray(sk.sign(digest).signature)
    sig[n % 64] ^= 0x01  # corrupted: flips one bit
    return pack({"body": body, "chain": chain, "from": sign_pk, "sig": bytes(sig),
                 "type": "notice", "v": 1})


def forger(state, chain_hex, seconds, targets):
    chain = bytes.fromhex(chain_hex)
    sk = nacl.signing.SigningKey(key_seed(os.path.join(state, "keys/identity.key"), "ed25519"))
    sign_pk = bytes(sk.verify_key)
    curve_sk = key_seed(os.path.join(state, "keys/curve.key"), "x25519")
    curve_pk = nacl.bindings.crypto_scalarmult_base(curve_sk)
    ctx = zmq.Context()
    socks = []
    for t in targets:
        endpoint, server_hex = t.split("=", 1)
        socks.append(dealer(ctx, endpoint, curve_pk, curve_sk, bytes.fromhex(server_hex)))
    inc = int(time.time() * 1000) + 1000
    n = 0
    end = time.time() + seconds
    next_bad = 0.0
    while time.time() < end:
        inc += 1
        push = frame(1, pack({"t": 5, "up": [[1, sign_pk, inc]], "v": 1}))
        now = time.time()
        bad = None
        if now >= next_bad:
            next_bad = now + 0.25
            n += 1
            bad = frame(2, pack({"records": [bad_notice(sk, sign_pk, chain, n)], "t": 1, "v": 1}))
        for s in socks:
            try:
                s.send(push, zmq.NOBLOCK)
                if bad:
                    s.send(bad, zmq.NOBLOCK)
            except zmq.Again:
                pass
        time.sleep(0.1)
    print("forger: sent %d bad records to each of %d nodes" % (n, len(socks)), flush=True)
    for s in socks:
        s.close()
    ctx.term()


def main():
    if len(sys.argv) >= 4 and sys.argv[1] == "unknown":
        unknown(sys.argv[2], sys.argv[3])
    elif len(sys.argv) >= 6 and sys.argv[1] == "forger":
        forger(sys.argv[2], sys.argv[3], float(sys.argv[4]), sys.argv[5:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
