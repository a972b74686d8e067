#!/usr/bin/env python3
"""A scripted XMPP client for the SASL2 capture (captures/make/prosody-sasl2.sh): no
Python XMPP library speaks XEP-0388 yet, so this one writes the client's side by hand
and waits for the real server's (prosody with mod_sasl2 and mod_sasl2_bind2)
answer to each step. In the clear, so the capture
shows everything.

Connection 1: SASL2 SCRAM-SHA-1 (XEP-0388: challenge, response, success with
additional data) with Bind2 (XEP-0386); presence, a chat message, a ping; clean close.
Connection 2: SASL2 PLAIN with Bind2, then stream management (XEP-0198) enabled with
resumption; a message, a stream-management request and ack; then the TCP connection
is dropped without closing the stream, as a phone losing its network does.
Connection 3: SASL2 PLAIN without Bind2, then XEP-0198 <resume/> of connection 2's
session: no resource is bound; unavailable presence; clean close.
(Inline stream management in SASL2, mod_sasl2_sm, needs prosody 0.13.)

Usage: sasl2_client.py PORT
"""
import base64
import hashlib
import hmac
import re
import socket
import sys

HEADER = (
    "<?xml version='1.0'?><stream:stream to='localhost' version='1.0' xml:lang='en' "
    "xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>"
)
USER_AGENT = (
    "<user-agent id='2f1f6a5e-3c57-4e0c-9a52-8e4a3f1b7d20'>"
    "<software>xmppdump test client</software><device>ci</device></user-agent>"
)


class Conn:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.seen = b""

    def send(self, text):
        self.sock.sendall(text.encode())

    def until(self, pattern):
        """Reads until `pattern` (a regex over everything received) matches."""
        while True:
            m = re.search(pattern.encode(), self.seen, re.S)
            if m:
                self.seen = self.seen[m.end():]
                return m
            chunk = self.sock.recv(65536)
            if not chunk:
                raise SystemExit(f"connection closed waiting for {pattern!r}")
            self.seen += chunk

    def close(self):
        self.send("</stream:stream>")
        self.until("</stream:stream>")
        self.sock.close()


def scram_sha1(c):
    """SCRAM-SHA-1 (RFC 5802) over SASL2's challenge and response."""
    cnonce = base64.b64encode(b"xmppdump-client-nonce").decode()
    first_bare = f"n=juliet,r={cnonce}"
    c.send(
        "<authenticate xmlns='urn:xmpp:sasl:2' mechanism='SCRAM-SHA-1'>"
        f"<initial-response>{base64.b64encode(('n,,' + first_bare).encode()).decode()}"
        f"</initial-response>{USER_AGENT}"
        "<bind xmlns='urn:xmpp:bind:0'><tag>xmppdump</tag></bind></authenticate>"
    )
    challenge = c.until("<challenge[^>]*>([^<]*)</challenge>").group(1)
    server_first = base64.b64decode(challenge).decode()
    fields = dict(part.split("=", 1) for part in server_first.split(","))
    salted = hashlib.pbkdf2_hmac("sha1", b"secret", base64.b64decode(fields["s"]), int(fields["i"]))
    client_key = hmac.new(salted, b"Client Key", hashlib.sha1).digest()
    stored_key = hashlib.sha1(client_key).digest()
    without_proof = f"c=biws,r={fields['r']}"
    auth_message = f"{first_bare},{server_first},{without_proof}".encode()
    signature = hmac.new(stored_key, auth_message, hashlib.sha1).digest()
    proof = bytes(a ^ b for a, b in zip(client_key, signature))
    final = f"{without_proof},p={base64.b64encode(proof).decode()}"
    c.send(
        "<response xmlns='urn:xmpp:sasl:2'>"
        f"{base64.b64encode(final.encode()).decode()}</response>"
    )
    c.until("</success>")
    c.until("</stream:features>")


def plain(inline):
    response = base64.b64encode(b"\0juliet\0secret").decode()
    return (
        "<authenticate xmlns='urn:xmpp:sasl:2' mechanism='PLAIN'>"
        f"<initial-response>{response}</initial-response>{USER_AGENT}{inline}</authenticate>"
    )


def main():
    port = int(sys.argv[1])

    c = Conn(port)
    c.send(HEADER)
    c.until("</stream:features>")
    scram_sha1(c)
    c.send("<presence><show>chat</show><status>testing SASL2</status></presence>")
    c.send(
        "<message to='romeo@localhost' type='chat' id='m1'><body>hello over SASL2</body></message>"
    )
    c.send("<iq type='get' id='ping1' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>")
    c.until("id=['\"]ping1['\"]")
    c.close()

    c = Conn(port)
    c.send(HEADER)
    c.until("</stream:features>")
    c.send(plain("<bind xmlns='urn:xmpp:bind:0'><tag>phone</tag></bind>"))
    c.until("</success>")
    c.until("</stream:features>")
    c.send("<enable xmlns='urn:xmpp:sm:3' resume='true'/>")
    previd = c.until("<enabled[^>]* id=['\"]([^'\"]+)")
    c.send("<presence/>")
    c.send("<message to='romeo@localhost' type='chat' id='m2'><body>on the move</body></message>")
    c.send("<r xmlns='urn:xmpp:sm:3'/>")
    c.until("<a [^>]*/>")
    c.send("<a xmlns='urn:xmpp:sm:3' h='0'/>")
    c.sock.close()  # the network is gone: no </stream:stream>

    c = Conn(port)
    c.send(HEADER)
    c.until("</stream:features>")
    c.send(plain(""))
    c.until("</success>")
    c.until("</stream:features>")
    c.send(f"<resume xmlns='urn:xmpp:sm:3' previd='{previd.group(1).decode()}' h='0'/>")
    c.until("<resumed")
    c.send("<presence type='unavailable'/>")
    c.close()


main()
