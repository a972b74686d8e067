#!/usr/bin/env python3
"""Independent count of stanzas in a classic-pcap capture, for cross-checking
xmppdump's statistics. Uses only the standard library: its own pcap/IP/TCP reading,
naive in-order reassembly (first copy wins), and Python's expat parser for XML.

Counts depth-1 <message>, <presence> and <iq> elements, and <route> elements whose
first child is one of them (router traffic), with their sizes in bytes as they were
on the wire. Prints: presences presence_bytes stanzas stanza_bytes
"""
import struct
import sys
import xml.parsers.expat

STANZAS = ("message", "presence", "iq")


def packets(path):
    data = open(path, "rb").read()
    magic = struct.unpack("<I", data[:4])[0]
    endian = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    linktype = struct.unpack(endian + "I", data[20:24])[0]
    pos = 24
    while pos + 16 <= len(data):
        _, _, caplen, _ = struct.unpack(endian + "IIII", data[pos:pos + 16])
        yield linktype, data[pos + 16:pos + 16 + caplen]
        pos += 16 + caplen


def tcp_segments(path):
    for linktype, frame in packets(path):
        if linktype == 113:  # Linux SLL
            proto, ip = struct.unpack(">H", frame[14:16])[0], frame[16:]
        elif linktype == 1:  # Ethernet
            proto, ip = struct.unpack(">H", frame[12:14])[0], frame[14:]
        else:
            raise SystemExit("unsupported link type %d" % linktype)
        if proto != 0x0800 or ip[9] != 6:
            continue
        ihl = (ip[0] & 15) * 4
        total = struct.unpack(">H", ip[2:4])[0]
        tcp = ip[ihl:total]
        sport, dport, seq = struct.unpack(">HHI", tcp[:8])
        flags = tcp[13]
        off = (tcp[12] >> 4) * 4
        yield (ip[12:16], sport, ip[16:20], dport), seq, flags, tcp[off:]


def streams(path):
    """Bytes of each direction, in sequence order, first copy wins."""
    nxt, out = {}, {}
    for key, seq, flags, payload in tcp_segments(path):
        if flags & 0x02:  # SYN
            nxt[key] = seq + 1
            out[key] = bytearray()
            continue
        if key not in nxt:
            nxt[key] = seq
            out[key] = bytearray()
        start = nxt[key]
        if seq <= start < seq + len(payload):
            out[key] += payload[start - seq:]
            nxt[key] = seq + len(payload)
    return out


def tag_end(data, i):
    """Index just past the start tag beginning at i, and whether it is empty (/>)."""
    quote = None
    while True:
        b = data[i:i + 1]
        if quote:
            if b == quote:
                quote = None
        elif b in (b"'", b'"'):
            quote = b
        elif b == b">":
            return i + 1, data[i - 1:i] == b"/"
        i += 1


def top_level_elements(data):
    """(name, first child name, size) of each depth-1 element; restarts handled."""
    parser = xml.parsers.expat.ParserCreate()
    found, stack = [], []
    state = {"depth": 0}

    def start(name, attrs):
        local = name.split(":")[-1]
        if local == "stream" and state["depth"] <= 1:
            state["depth"] = 1  # stream header or restart
            return
        state["depth"] += 1
        if state["depth"] == 2:
            begin = parser.CurrentByteIndex
            stack.append([local, None, begin, tag_end(data, begin)])
        elif state["depth"] == 3 and stack and stack[-1][1] is None:
            stack[-1][1] = local

    def end(name):
        if state["depth"] == 2 and stack:
            local, child, begin, (after_tag, empty) = stack.pop()
            # expat points at the "</" of an end tag; an empty element ends with its tag.
            close = after_tag if empty else data.index(b">", parser.CurrentByteIndex) + 1
            found.append((local, child, close - begin))
        state["depth"] -= 1

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    try:
        parser.Parse(bytes(data), False)
    except xml.parsers.expat.ExpatError:
        pass  # what follows STARTTLS is TLS; what was parsed counts
    return found


def main(path):
    presences = presence_bytes = stanzas = stanza_bytes = 0
    for data in streams(path).values():
        if b"jabber" not in data[:2048]:
            continue
        for name, child, size in top_level_elements(data):
            kind = name if name in STANZAS else (child if name == "route" and child in STANZAS else None)
            if kind is None:
                continue
            stanzas += 1
            stanza_bytes += size
            if kind == "presence":
                presences += 1
                presence_bytes += size
    print(presences, presence_bytes, stanzas, stanza_bytes)


if __name__ == "__main__":
    main(sys.argv[1])
