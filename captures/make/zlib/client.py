#!/usr/bin/env python3
"""A small XMPP client that negotiates XEP-0138 stream compression (zlib) over a
real socket, for captures/make/zlib.sh.

It opens a stream, takes STARTTLS when asked (--tls, writing the TLS key log for
the capture), authenticates with SASL PLAIN, first asks for a method the server does
not offer (so the capture holds a <failure/>), then for zlib, restarts the stream
inside compression (XEP-0138 §6), binds, and exchanges stanzas with itself. Every
stanza it sends and every one it receives after compression is logged, in order, to
the truth file: the ground truth tests/compression.rs checks xmppdump against.

Usage: client.py PORT USER PASSWORD TRUTH.json [--tls KEYLOG]
"""
import base64
import json
import re
import socket
import ssl
import sys
import zlib

HEADER = ("<?xml version='1.0'?><stream:stream to='localhost' xmlns='jabber:client' "
          "xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>")


class Conn:
    def __init__(self, sock):
        self.sock = sock
        self.buf = b""
        self.deflate = None
        self.inflate = None
        self.wire_out = 0

    def send(self, text):
        data = text.encode()
        if self.deflate:
            # One sync flush per write: the server can read each element at once.
            data = self.deflate.compress(data) + self.deflate.flush(zlib.Z_SYNC_FLUSH)
        self.sock.sendall(data)

    def until(self, pattern):
        """Reads until `pattern` (a regex over the text) matches; returns the text up
        to the end of the match and keeps the rest."""
        while True:
            text = self.buf.decode(errors="replace")
            m = re.search(pattern, text, re.S)
            if m:
                used = len(text[: m.end()].encode())
                self.buf = self.buf[used:]
                return text[: m.end()]
            chunk = self.sock.recv(65536)
            if not chunk:
                raise SystemExit(f"connection closed while waiting for {pattern}")
            if self.inflate:
                chunk = self.inflate.decompress(chunk)
            self.buf += chunk


def main():
    port, user, password, truth_path = sys.argv[1:5]
    keylog = sys.argv[6] if len(sys.argv) > 6 and sys.argv[5] == "--tls" else None
    conn = Conn(socket.create_connection(("127.0.0.1", int(port))))
    conn.send(HEADER)
    features = conn.until(r"</stream:features>")
    if keylog:
        conn.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
        conn.until(r"<proceed[^>]*/>")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.keylog_filename = keylog
        conn.sock = ctx.wrap_socket(conn.sock, server_hostname="localhost")
        conn.send(HEADER)
        features = conn.until(r"</stream:features>")
    if "PLAIN" not in features:
        raise SystemExit(f"no PLAIN in {features}")
    creds = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
    conn.send(f"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{creds}</auth>")
    conn.until(r"<success[^>]*(/>|</success>)")
    conn.send(HEADER)
    features = conn.until(r"</stream:features>")
    if "http://jabber.org/features/compress" not in features:
        raise SystemExit(f"the server offers no compression: {features}")
    # XEP-0138 §5: a method the server does not offer is refused.
    conn.send("<compress xmlns='http://jabber.org/protocol/compress'><method>lzw</method></compress>")
    refused = conn.until(r"</failure>|<failure[^>]*/>")
    conn.send("<compress xmlns='http://jabber.org/protocol/compress'><method>zlib</method></compress>")
    conn.until(r"<compressed[^>]*/>")
    if conn.buf:
        raise SystemExit("bytes after <compressed/> before the client switched")
    # XEP-0138 §6: both sides compress from here, and the client restarts the stream.
    conn.deflate = zlib.compressobj()
    conn.inflate = zlib.decompressobj()
    conn.send(HEADER)
    conn.until(r"</stream:features>")
    sent, received = [], []

    def send(stanza, name, sid):
        conn.send(stanza)
        sent.append({"name": name, "id": sid})

    def receive(name, sid):
        text = conn.until(rf"<{name}\b[^>]*\bid=['\"]{sid}['\"].*?(/>|</{name}>)")
        received.append({"name": name, "id": sid})
        return text

    send("<iq type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
         "<resource>zlib</resource></bind></iq>", "iq", "bind1")
    jid = re.search(r"<jid>([^<]+)</jid>", receive("iq", "bind1")).group(1)
    send("<iq type='get' id='roster1'><query xmlns='jabber:iq:roster'/></iq>", "iq", "roster1")
    receive("iq", "roster1")
    send("<presence id='pres1'><show>chat</show><status>compressed</status></presence>",
         "presence", "pres1")
    receive("presence", "pres1")
    # Repetitive bodies compress well; each one also arrives back (a message to
    # oneself's full JID).
    for i in range(1, 6):
        body = f"message {i}: " + "the quick brown fox jumps over the lazy dog " * 8
        send(f"<message to='{jid}' type='chat' id='msg{i}'><body>{body}</body></message>",
             "message", f"msg{i}")
        receive("message", f"msg{i}")
    send("<iq type='get' id='ping1' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>",
         "iq", "ping1")
    receive("iq", "ping1")
    conn.send("</stream:stream>")
    try:
        conn.until(r"</stream:stream>")
    except SystemExit:
        pass
    conn.sock.close()
    truth = {
        "jid": jid,
        "tls": bool(keylog),
        "refused": re.search(r"<failure[^>]*>\s*<([a-z-]+)", refused).group(1),
        "sent": sent,
        "received": received,
    }
    with open(truth_path, "w") as f:
        json.dump(truth, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
