#!/usr/bin/env python3
"""A real XMPP client (slixmpp) for the live-capture test: logs in as juliet without
TLS (so the capture shows everything), sends presence, fetches the roster, sends
three chat messages to romeo, and disconnects.  Usage: live_client.py PORT"""
import asyncio
import sys

import slixmpp


class Client(slixmpp.ClientXMPP):
    def __init__(self):
        super().__init__("juliet@localhost/balcony", "secret")
        self.enable_starttls = False
        self.enable_direct_tls = False
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


async def main(port):
    client = Client()
    client.connect("127.0.0.1", port)
    await asyncio.wait_for(client.disconnected, timeout=20)


asyncio.run(main(int(sys.argv[1])))
