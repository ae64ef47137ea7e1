#!/usr/bin/python3
"""A control-socket client that sends status requests and never reads the
replies, to check that wardend's engine disconnects it instead of blocking.
Prints how many requests were sent before the engine hung up."""
import socket
import struct
import sys
import time

CTL_STATUS = 100
sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
sock.connect(sys.argv[1])
sent = 0
try:
    for request_id in range(1, 5001):
        sock.send(struct.pack(">III", CTL_STATUS, 0, request_id))
        sent += 1
        time.sleep(0.002)
except OSError:
    pass
print(sent)
