"""Sends an IPv6 router advertisement (no prefix, router lifetime 0) on an
interface every second until killed: iPXE waits about 13 s for one before
it goes on with DHCPv4 results, so the QEMU boot test sends one. Test-only.
Usage: ra_send.py IFACE"""
import socket
import struct
import sys
import time

iface = sys.argv[1]
index = socket.if_nametoindex(iface)
s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, index)
# type 134, code 0, checksum (the kernel fills it in), hop limit 64, flags 0,
# router lifetime 0, reachable time 0, retransmit timer 0
ra = struct.pack("!BBHBBHII", 134, 0, 0, 64, 0, 0, 0, 0)
while True:
    try:
        s.sendto(ra, ("ff02::1", 0, 0, index))
    except OSError as e:
        print("ra_send:", e, file=sys.stderr)
    time.sleep(1)
