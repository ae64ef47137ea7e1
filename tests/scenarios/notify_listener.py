#!/usr/bin/python3
"""Stands in for the service manager in tests: binds the AF_UNIX datagram
socket named on the command line (as $NOTIFY_SOCKET would be) and appends
every notification it receives, one line per variable, to the output file."""
import socket
import sys

path, out = sys.argv[1], sys.argv[2]
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sock.bind(path)
with open(out, "a", buffering=1) as log:
    log.write("LISTENING\n")
    while True:
        data = sock.recv(4096)
        for line in data.decode().splitlines():
            log.write(line + "\n")
