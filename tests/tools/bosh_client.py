#!/usr/bin/env python3
"""A scripted BOSH client (XEP-0124, XEP-0206) for captures/make/prosody-bosh.sh: the
Python XMPP libraries here do not speak BOSH, and strophe.js needs a browser, so this
one writes the client's side by hand over one keep-alive HTTP connection
(http.client) and waits for the real server's (prosody's mod_bosh) answers. In the
clear, so the capture shows everything.

Session creation, SASL PLAIN, restart, bind, then presence, a chat message and a ping
in one <body/>, then the session terminated with an unavailable presence.

Usage: bosh_client.py PORT [https]. With `https` the same over TLS (any certificate is
accepted); Python's ssl module writes the session keys to $SSLKEYLOGFILE.
"""
import base64
import http.client
import re
import ssl
import sys

NS = "xmlns='http://jabber.org/protocol/httpbind'"
XBOSH = "xmlns:xmpp='urn:xmpp:xbosh'"


class Bosh:
    def __init__(self, port, https=False):
        if https:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            self.http = http.client.HTTPSConnection("127.0.0.1", port, timeout=20, context=context)
        else:
            self.http = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
        self.rid = 1573741820
        self.sid = None
        self.seen = ""

    def post(self, attrs="", content=""):
        self.rid += 1
        sid = f" sid='{self.sid}'" if self.sid else ""
        body = f"<body rid='{self.rid}'{sid} {NS}{attrs}>{content}</body>" if content else \
            f"<body rid='{self.rid}'{sid} {NS}{attrs}/>"
        self.http.request("POST", "/http-bind", body, {"Content-Type": "text/xml; charset=utf-8"})
        answer = self.http.getresponse().read().decode()
        self.seen += answer
        return answer

    def until(self, pattern):
        """Polls with empty bodies until `pattern` has been seen in the answers."""
        for _ in range(20):
            m = re.search(pattern, self.seen, re.S)
            if m:
                self.seen = self.seen[m.end():]
                return m
            self.post()
        raise SystemExit(f"never saw {pattern!r}")


def main():
    b = Bosh(int(sys.argv[1]), len(sys.argv) > 2 and sys.argv[2] == "https")
    created = b.post(f" to='localhost' xml:lang='en' wait='2' hold='1' ver='1.6' "
                     f"content='text/xml; charset=utf-8' xmpp:version='1.0' {XBOSH}")
    b.sid = re.search(r"sid=['\"]([^'\"]+)", created).group(1)
    b.until("</stream:features>")
    plain = base64.b64encode(b"\0juliet\0secret").decode()
    b.post(content=f"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{plain}</auth>")
    b.until("<success")
    b.post(f" to='localhost' xml:lang='en' xmpp:restart='true' {XBOSH}")
    b.until("</stream:features>")
    b.post(content="<iq type='set' id='bind1' xmlns='jabber:client'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
           "<resource>bosh</resource></bind></iq>")
    b.until("id=['\"]bind1['\"]")
    b.post(content="<presence xmlns='jabber:client'><show>chat</show></presence>"
           "<message xmlns='jabber:client' to='romeo@localhost' type='chat' id='bosh1'><body>hello over BOSH</body></message>"
           "<iq xmlns='jabber:client' type='get' id='ping1' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>")
    b.until("id=['\"]ping1['\"]")
    b.post(" type='terminate'", "<presence xmlns='jabber:client' type='unavailable'/>")
    b.http.close()


main()
