#!/usr/bin/env python3
"""A real XMPP client (slixmpp) for the live-capture test: logs in as juliet without
TLS (so the capture shows everything), sends presence, fetches the roster, sends
three chat messages to romeo, and disconnects.

Usage: live_client.py PORT [CAFILE [direct]]. With CAFILE the client requires STARTTLS and
trusts that certificate (TLS_MAX_VERSION=1.2 caps the version); Python's ssl module writes
the session keys to $SSLKEYLOGFILE. With `direct` it speaks TLS from the first byte instead
(XEP-0368 direct TLS) and offers the ALPN protocol `xmpp-client`, as Conversations, Dino and
Gajim do."""
import asyncio
import os
import ssl
import sys

import slixmpp


class Client(slixmpp.ClientXMPP):
    def __init__(self, cafile=None, direct=False):
        super().__init__("juliet@localhost/balcony", "secret")
        self.enable_direct_tls = direct
        if direct:
            self.enable_starttls = False
            self.enable_plaintext = False
            self.ssl_context.load_verify_locations(cafile)
            self.ssl_context.set_alpn_protocols(["xmpp-client"])
        elif cafile:
            self.enable_starttls = True
            self.enable_plaintext = False
            self.ssl_context.load_verify_locations(cafile)
            if os.environ.get("TLS_MAX_VERSION") == "1.2":
                self.ssl_context.maximum_version = ssl.TLSVersion.TLSv1_2
        else:
            self.enable_starttls = False
            self.enable_plaintext = True
            mechanisms = self.plugin["feature_mechanisms"]
            mechanisms.unencrypted_plain = True
            mechanisms.unencrypted_scram = True
        self.add_event_handler("session_start", self.start)
        self.add_event_handler("failed_auth", lambda _: self.disconnect())

    async def start(self, _event):
        self.send_presence()
        await self.get_roster()
        for i in range(3):
            self.send_message(mto="romeo@localhost", mbody=f"hello romeo {i}", mtype="chat")
        await asyncio.sleep(0.3)
        self.disconnect()


async def main(port, cafile, direct):
    client = Client(cafile, direct)
    client.connect("127.0.0.1", port)
    await asyncio.wait_for(client.disconnected, timeout=20)


asyncio.run(
    main(
        int(sys.argv[1]),
        sys.argv[2] if len(sys.argv) > 2 else None,
        len(sys.argv) > 3 and sys.argv[3] == "direct",
    )
)
