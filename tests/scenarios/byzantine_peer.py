#!/usr/bin/python3
"""A byzantine validator for ledger_byzantine.sh, written from docs/PROTOCOL.md
alone ("Key files", "Signed envelope", "Peer transport", "Agreement messages
and rules", "Agreement on the wire"): it plays the genesis node whose keys
are in STATE_DIR, with its real identity and CURVE keys, and equivocates.

  byzantine_peer.py STATE_DIR CHAIN_HEX LISTEN SECONDS GROUP_A GROUP_B [MODE]

  LISTEN   the node's own mesh endpoint (tcp://127.0.0.1:PORT): it binds a
           ROUTER there as the CURVE server with the node's key, so the honest
           nodes' DEALERs connect and send it their agreement messages; that
           is how it learns the height and round they are deciding.
  GROUP_A  comma-separated ENDPOINT=CURVE_PK_HEX of honest nodes
  GROUP_B  the same, for the other honest nodes

For every (height, round) it sees (and for round 0 of the next height, so
that its votes are there before the round starts), it signs a prevote and a
precommit for nil and sends them to GROUP_A, and a prevote and a precommit
for a random block id and sends them to GROUP_B: two different votes of
one kind, one height and one round, each group seeing only one of them. It
never relays anything, so an honest node holds both only if the honest
nodes relay each other's accepted messages (the repair of a stalled
height). It stops after SECONDS (or on SIGTERM) and prints how many
(height, round) pairs it equivocated in.

MODE "precommit" plays a quieter double game: for every proposal it hears
it prevotes the proposed block to everyone, precommits it to GROUP_A and
precommits nil to GROUP_B, at once, so that GROUP_A's commit certificates
may hold its precommit. No height stalls for it; a GROUP_B node holds both
precommits only when a certificate that GROUP_A made reaches it (the next
block's last_cert).
"""
import hashlib
import os
import signal
import sys
import time

import msgpack
import nacl.bindings
import nacl.signing
import zmq
import zmq.utils.z85

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from mesh_peer import dealer, key_seed, pack  # noqa: E402 (the same key files and CURVE client)

CHANNEL_AGREE = 3


def seal(sk, chain, kind, body):
    """A signed envelope: the signing rule over type, chain and body."""
    digest = hashlib.sha256(b"warden/1\x00" + kind.encode() + b"\x00" + chain + body).digest()
    return pack({"body": body, "chain": chain, "from": bytes(sk.verify_key),
                 "sig": sk.sign(digest).signature, "type": kind, "v": 1})


def vote(sk, chain, kind, height, rnd, block):
    body = pack({"block": block, "height": height, "round": rnd, "v": 1})
    return seal(sk, chain, kind, body)


def group(ctx, spec, public, secret):
    socks = []
    for t in spec.split(","):
        endpoint, server_hex = t.split("=", 1)
        socks.append(dealer(ctx, endpoint, public, secret, bytes.fromhex(server_hex)))
    return socks


def heard(frame, chain):
    """(height, round, proposed block id or None) of an agreement message,
    or None."""
    if len(frame) < 3 or frame[0] != 1 or frame[1] != CHANNEL_AGREE:
        return None
    try:
        env = msgpack.unpackb(frame[2:], raw=False)
        if env.get("chain") != chain or env.get("type") not in ("proposal", "prevote", "precommit"):
            return None
        body = msgpack.unpackb(env["body"], raw=False)
        block = hashlib.sha256(body["block"]).digest() if env["type"] == "proposal" else None
        return int(body["height"]), int(body["round"]), block
    except Exception:  # a byzantine node does not care why
        return None


def main():
    if len(sys.argv) not in (7, 8):
        sys.exit(__doc__)
    state, chain_hex, listen, seconds, spec_a, spec_b = sys.argv[1:7]
    precommit_only = len(sys.argv) == 8 and sys.argv[7] == "precommit"
    chain = bytes.fromhex(chain_hex)
    sk = nacl.signing.SigningKey(key_seed(os.path.join(state, "keys/identity.key"), "ed25519"))
    curve_sk = key_seed(os.path.join(state, "keys/curve.key"), "x25519")
    curve_pk = nacl.bindings.crypto_scalarmult_base(curve_sk)

    ctx = zmq.Context()
    router = ctx.socket(zmq.ROUTER)
    router.linger = 0
    router.curve_server = True
    router.curve_secretkey = zmq.utils.z85.encode(curve_sk)
    router.bind(listen)
    a = group(ctx, spec_a, curve_pk, curve_sk)
    b = group(ctx, spec_b, curve_pk, curve_sk)

    done = set()  # (height, round) equivocated in
    pending = []  # (when, socket, frame): each vote is sent twice, 0.3 s apart
    poller = zmq.Poller()
    poller.register(router, zmq.POLLIN)
    end = time.time() + float(seconds)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    while time.time() < end and not stop:
        for sock, _ in poller.poll(50):
            parts = sock.recv_multipart()
            hr = heard(parts[-1], chain)
            if not hr:
                continue
            if precommit_only:
                h, r, block = hr
                if block is None or (h, r) in done:
                    continue
                done.add((h, r))
                now = time.time()
                prevote = bytes([1, CHANNEL_AGREE]) + vote(sk, chain, "prevote", h, r, block)
                for_block = bytes([1, CHANNEL_AGREE]) + vote(sk, chain, "precommit", h, r, block)
                for_nil = bytes([1, CHANNEL_AGREE]) + vote(sk, chain, "precommit", h, r, None)
                pending += [(now, s, prevote) for s in a + b]
                pending += [(now, s, for_block) for s in a] + [(now, s, for_nil) for s in b]
                continue
            for h, r in (hr[0:2], (hr[0] + 1, 0)):
                if (h, r) in done:
                    continue
                done.add((h, r))
                block = os.urandom(32)
                now = time.time()
                for kind in ("prevote", "precommit"):
                    fa = bytes([1, CHANNEL_AGREE]) + vote(sk, chain, kind, h, r, None)
                    fb = bytes([1, CHANNEL_AGREE]) + vote(sk, chain, kind, h, r, block)
                    for when in (now, now + 0.3):
                        pending += [(when, s, fa) for s in a] + [(when, s, fb) for s in b]
        now = time.time()
        due = [p for p in pending if p[0] <= now]
        pending = [p for p in pending if p[0] > now]
        for _, s, f in due:
            try:
                s.send(f, zmq.NOBLOCK)
            except zmq.Again:
                pass
    print("byzantine: equivocated in %d (height, round) pairs" % len(done), flush=True)
    for s in a + b + [router]:
        s.close()
    ctx.term()


if __name__ == "__main__":
    main()
