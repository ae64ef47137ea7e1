#!/usr/bin/python3
"""Test-only UDP proxy for TFTP that loses and duplicates packets.

Clients talk to the proxy's port as if it were the server; each client
address gets its own upstream socket to the real server, which locks onto
the server's transfer port (TID) once the server answers and refuses any
other TID with error 5, as a client does (a duplicated request makes the
server start a second transfer). Packets in both
directions (DATA, ACK and ERROR; requests and OACKs pass untouched) are
dropped with probability --loss and sent twice with probability --dup,
from a seeded generator so runs repeat. The first line
on standard output is the proxy's port; counts go to standard error when it
is terminated.

Usage: tftp_lossy_proxy.py SERVER_PORT [--loss P] [--dup P] [--seed N]
"""
import argparse
import random
import select
import signal
import socket
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("server_port", type=int)
    ap.add_argument("--loss", type=float, default=0.05)
    ap.add_argument("--dup", type=float, default=0.05)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    counts = {"forwarded": 0, "dropped": 0, "duplicated": 0}

    def stop(*_):
        print(" ".join(f"{k}={v}" for k, v in counts.items()), file=sys.stderr)
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)

    front = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    front.bind(("127.0.0.1", 0))
    print(front.getsockname()[1], flush=True)
    upstream = {}  # client addr -> [socket, server addr]
    by_sock = {}  # upstream socket -> client addr

    def send(sock, data, addr):
        # Requests and OACKs pass untouched: clients wait many seconds
        # before resending a request, which would only slow the test.
        if data[:2] in (b"\0\1", b"\0\2", b"\0\6"):
            sock.sendto(data, addr)
            return
        if rng.random() < args.loss:
            counts["dropped"] += 1
            return
        sock.sendto(data, addr)
        counts["forwarded"] += 1
        if rng.random() < args.dup:
            sock.sendto(data, addr)
            counts["duplicated"] += 1

    while True:
        ready, _, _ = select.select([front] + list(by_sock), [], [])
        for s in ready:
            data, addr = s.recvfrom(70000)
            if s is front:
                if addr not in upstream:
                    up = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                    up.bind(("127.0.0.1", 0))
                    upstream[addr] = [up, ("127.0.0.1", args.server_port)]
                    by_sock[up] = addr
                up, server = upstream[addr]
                send(up, data, server)
            else:
                client = by_sock[s]
                entry = upstream[client]
                if entry[1][1] == args.server_port:
                    entry[1] = addr  # lock onto the server's TID, as a client does
                elif entry[1] != addr:
                    # A second transfer (the server saw a duplicated request):
                    # refuse it as a real client would (RFC 1350 error 5).
                    s.sendto(b"\0\5\0\5unknown transfer ID\0", addr)
                    continue
                send(front, data, client)


if __name__ == "__main__":
    main()
