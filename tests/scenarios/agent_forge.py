#!/usr/bin/python3
"""A misbehaving host agent for wardend_agent.sh, written from
docs/PROTOCOL.md "Host agent protocol" alone (python3-zmq for CURVE,
python3-nacl for Ed25519, python3-msgpack).

It says hello with its own boot token, answers challenge 1 properly signed
(every item "absent"), then on the next challenge:
  1. replays its answer to challenge 1 (old seq and nonce) -> must be
     rejected with ATTEST_ERR_AGENT_NONCE;
  2. sends an answer with the right nonce signed by another key but naming
     its session key as the signer -> WD_ERR_BAD_SIGNATURE;
  3. sends an answer signed and named by another key ->
     ATTEST_ERR_AGENT_SESSION_KEY.
Prints one line per check and exits 0 when every rejection came with the
expected reason.

Usage: agent_forge.py ENDPOINT SERVER_KEY_HEX TOKEN
"""
import hashlib
import sys

import msgpack
import nacl.signing
import zmq
import zmq.utils.z85


def canon(obj):
    """Canonical msgpack: maps with sorted keys (our values hold no floats)."""
    if isinstance(obj, dict):
        return {k: canon(obj[k]) for k in sorted(obj)}
    if isinstance(obj, list):
        return [canon(v) for v in obj]
    return obj


def pack(obj):
    return msgpack.packb(canon(obj), use_bin_type=True)


def envelope(kind, chain, signer, body_obj, claimed_from=None):
    body = pack(body_obj)
    digest = hashlib.sha256(b"warden/1\x00" + kind.encode() + b"\x00" + chain + body).digest()
    sig = signer.sign(digest).signature
    frm = claimed_from if claimed_from is not None else bytes(signer.verify_key)
    return pack({"body": body, "chain": chain, "from": frm, "sig": sig, "type": kind, "v": 1})


def main():
    endpoint, server_hex, token = sys.argv[1:4]
    server_pk = bytes.fromhex(server_hex)
    ctx = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    pub, sec = zmq.curve_keypair()
    sock.curve_publickey = pub
    sock.curve_secretkey = sec
    sock.curve_serverkey = zmq.utils.z85.encode(server_pk)
    sock.linger = 0
    sock.rcvtimeo = 15000
    sock.connect(endpoint)

    session = nacl.signing.SigningKey.generate()
    other = nacl.signing.SigningKey.generate()
    sock.send(envelope("agent-hello", server_pk, session, {"host": "forger", "token": token}))

    def recv():
        msg = msgpack.unpackb(sock.recv(), raw=False)
        return msg

    def expect_result(want_status, want_reason):
        while True:
            msg = recv()
            if msg["t"] == "result":
                ok = msg["status"] == want_status and msg["reason"] == want_reason
                print(f"{'ok' if ok else 'FAIL'}: result {msg['status']} {msg['reason']!r} "
                      f"(want {want_status} {want_reason!r})")
                return ok
            # a challenge arriving meanwhile is left unanswered

    def next_challenge():
        while True:
            msg = recv()
            if msg["t"] == "challenge":
                return msg

    def answers(ch):
        return [{"err": "absent", "kind": it["kind"]} for it in ch["items"]]

    ok = expect_result("accepted", "")
    ch1 = next_challenge()
    resp1 = envelope("agent-response", server_pk, session,
                     {"answers": answers(ch1), "nonce": ch1["nonce"], "seq": ch1["seq"]})
    sock.send(resp1)
    msg = recv()
    while msg["t"] != "result":
        msg = recv()
    print(f"challenge {ch1['seq']} answered: {msg['status']}")

    ch2 = next_challenge()
    sock.send(resp1)  # replay: the old nonce
    ok &= expect_result("rejected", "ATTEST_ERR_AGENT_NONCE")
    body = {"answers": answers(ch2), "nonce": ch2["nonce"], "seq": ch2["seq"]}
    sock.send(envelope("agent-response", server_pk, other, body,
                       claimed_from=bytes(session.verify_key)))
    ok &= expect_result("rejected", "WD_ERR_BAD_SIGNATURE")
    sock.send(envelope("agent-response", server_pk, other, body))
    ok &= expect_result("rejected", "ATTEST_ERR_AGENT_SESSION_KEY")
    sock.close()
    ctx.term()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
