#!/usr/bin/env python3
"""A stand-in for a PCR instrument's export side on a real pseudo-terminal
(tests/scenarios/pcr_signer.sh): it opens a pty pair, writes the slave's
path to PTY_FILE, then obeys commands read line by line from CMD_FIFO:

  frame SEQ NAME PATH [digest|truncate]   write one frame (docs/PROTOCOL.md
                                          "PCR intake framing"), optionally
                                          with corrupted data or cut short
  noise TEXT                              write bytes outside any frame
  quit                                    stop

It never reads what it sent; before quitting it checks that nothing came
back on the line (the node must never write to the instrument side) and
exits 1 if anything did.
"""
import hashlib
import os
import pty
import select
import struct
import sys
import tty


def frame(seq, name, data):
    """The byte-exact frame of docs/PROTOCOL.md."""
    name_b = name.encode("utf-8")
    head = b"WPCR" + bytes([1]) + struct.pack(">QHI", seq, len(name_b), len(data))
    head += hashlib.sha256(data).digest()
    head += hashlib.sha256(head).digest()[:4]
    return head + name_b + data


def main():
    pty_file, fifo = sys.argv[1], sys.argv[2]
    master, slave = pty.openpty()
    tty.setraw(slave)  # no echo before the node sets its own raw mode
    with open(pty_file + ".tmp", "w") as f:
        f.write(os.ttyname(slave))
    os.rename(pty_file + ".tmp", pty_file)
    echoed = b""
    with open(fifo) as cmds:
        for line in cmds:
            words = line.split()
            if not words:
                continue
            if words[0] == "quit":
                break
            if words[0] == "noise":
                os.write(master, " ".join(words[1:]).encode())
            elif words[0] == "frame":
                seq, name, path = int(words[1]), words[2], words[3]
                data = open(path, "rb").read()
                out = frame(seq, name, data)
                mode = words[4] if len(words) > 4 else ""
                if mode == "digest":
                    out = out[:-1] + bytes([out[-1] ^ 0x01])
                elif mode == "truncate":
                    out = out[: len(out) // 2]
                os.write(master, out)
            while select.select([master], [], [], 0)[0]:
                echoed += os.read(master, 4096)
    while select.select([master], [], [], 0.2)[0]:
        echoed += os.read(master, 4096)
    if echoed:
        print("pcr_instrument: %d bytes came back on the line" % len(echoed), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
