#!/usr/bin/env python3
"""A tiny authoritative DNS server for the federation experiment (captures/make/federation.sh):
answers A queries for the experiment's domains from a fixed table and says "no such
record" (NOERROR, empty answer) to everything else, so prosody's s2s resolver finds no
SRV record and falls back to the domain's address on port 5269 (RFC 6120 §3.2.2).

Usage: dns.py ADDRESS NAME=IPV4 [NAME=IPV4 ...]   (serves UDP port 53 on ADDRESS)
"""
import socket
import struct
import sys


def question(packet):
    """The query's name (lower case), type and the end offset of its question section."""
    pos, labels = 12, []
    while packet[pos]:
        length = packet[pos]
        labels.append(packet[pos + 1:pos + 1 + length].decode("ascii").lower())
        pos += 1 + length
    qtype, _qclass = struct.unpack("!HH", packet[pos + 1:pos + 5])
    return ".".join(labels), qtype, pos + 5


def answer(packet, table):
    name, qtype, end = question(packet)
    (ident,) = struct.unpack("!H", packet[:2])
    records = []
    if qtype == 1 and name in table:  # A
        # Name as a pointer to the question (offset 12), type A, class IN, TTL 60.
        records.append(struct.pack("!HHHIH", 0xC00C, 1, 1, 60, 4) + socket.inet_aton(table[name]))
    # Flags: response, authoritative, recursion desired and available; rcode 0.
    header = struct.pack("!HHHHHH", ident, 0x8580, 1, len(records), 0, 0)
    return header + packet[12:end] + b"".join(records)


def main():
    address = sys.argv[1]
    table = dict(arg.lower().split("=", 1) for arg in sys.argv[2:])
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind((address, 53))
    while True:
        packet, peer = server.recvfrom(4096)
        try:
            server.sendto(answer(packet, table), peer)
        except (IndexError, struct.error, UnicodeDecodeError):
            continue


main()
