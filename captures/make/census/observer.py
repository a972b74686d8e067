#!/usr/bin/env python3
"""The observing client of the census capture (captures/make/census.sh).

Logs in as observer@localhost (slixmpp, no TLS so the capture shows every stanza) with
the clients under study already in its roster (mutual subscriptions). slixmpp's XEP-0115
plugin asks every entity that advertises capabilities (the server in its stream features,
each client in its presence) for disco#info on `node#ver` and checks the verification
string itself (XEP-0115 §5). The observer then asks the server and every client for its
software version (XEP-0092), sends each client a chat message, and sends a file of known
size to a second resource of its own over an in-band bytestream (XEP-0047).

Everything the peers answered is written as JSON (the ground truth of tests/census.rs):
each entity's version answer, its caps node and whether slixmpp verified the caps, and
the size of the file that went through the bytestream, with the bytes received.

Usage: observer.py PORT LOG CLIENT_JID... (bare JIDs of the clients to wait for)
"""
import asyncio
import json
import logging
import os
import sys

import slixmpp

FILE_SIZE = 30_000
BLOCK_SIZE = 4096


def in_the_clear(xmpp):
    """No STARTTLS: the capture must show every stanza; SCRAM over the plain stream."""
    xmpp.enable_direct_tls = False
    xmpp.enable_starttls = False
    xmpp.enable_plaintext = True
    xmpp.plugin["feature_mechanisms"].unencrypted_scram = True


class Observer(slixmpp.ClientXMPP):
    def __init__(self, jid, clients):
        super().__init__(jid, "secret")
        in_the_clear(self)
        for plugin in ("xep_0030", "xep_0047", "xep_0092", "xep_0115", "xep_0199"):
            self.register_plugin(plugin)
        self.clients = set(clients)
        self.full = {}
        self.caps = {}
        self.seen = asyncio.Event()
        self.add_event_handler("session_start", self.start)
        self.add_event_handler("presence_available", self.available)

    async def start(self, _):
        self.send_presence()
        await self.get_roster()

    def available(self, presence):
        bare = presence["from"].bare
        if bare in self.clients and bare not in self.full:
            self.full[bare] = presence["from"]
            self.caps[bare] = presence["caps"]["node"]
            if set(self.full) == self.clients:
                self.seen.set()


class Receiver(slixmpp.ClientXMPP):
    def __init__(self, jid):
        super().__init__(jid, "secret")
        in_the_clear(self)
        self.register_plugin("xep_0030")
        # The receiver accepts any bytestream offered to it (XEP-0047 §2.1).
        self.register_plugin("xep_0047", {"auto_accept": True})
        self.received = bytearray()
        self.done = asyncio.Event()
        self.add_event_handler("session_start", lambda _: self.send_presence())
        self.add_event_handler("ibb_stream_start", self.stream_start)

    def stream_start(self, stream):
        async def read():
            self.received += await stream.gather()
            self.done.set()

        asyncio.ensure_future(read())


async def version_of(xmpp, jid):
    answer = await xmpp.plugin["xep_0092"].get_version(jid, timeout=10)
    version = answer["software_version"]
    return {"name": version["name"], "version": version["version"], "os": version["os"]}


async def main(port, log, clients):
    observer = Observer("observer@localhost/census", clients)
    receiver = Receiver("observer@localhost/ibb")
    for xmpp in (observer, receiver):
        xmpp.connect("127.0.0.1", port)
    await asyncio.wait_for(observer.seen.wait(), 60)
    # Let slixmpp's caps queries (disco#info node#ver) finish before our own.
    await asyncio.sleep(3)
    truth = {"server": {"version": await version_of(observer, "localhost")}, "clients": {}}
    for bare, full in sorted(observer.full.items()):
        ver = await observer.plugin["xep_0115"].get_verstring(full)
        truth["clients"][bare] = {
            "jid": str(full),
            "caps_node": observer.caps[bare],
            "caps_verified_by_slixmpp": bool(ver),
            "version": await version_of(observer, full),
        }
        observer.send_message(mto=full, mbody=f"Hello {bare}, which client are you?", mtype="chat")
    data = os.urandom(FILE_SIZE)
    stream = await observer.plugin["xep_0047"].open_stream(receiver.boundjid, block_size=BLOCK_SIZE)
    await stream.sendall(data)
    await stream.close()
    await asyncio.wait_for(receiver.done.wait(), 30)
    truth["ibb"] = {
        "file_size": FILE_SIZE,
        "block_size": BLOCK_SIZE,
        "received": len(receiver.received),
        "intact": bytes(receiver.received) == data,
    }
    await asyncio.sleep(1)
    for xmpp in (receiver, observer):
        xmpp.disconnect()
    await asyncio.sleep(1)
    with open(log, "w") as f:
        json.dump(truth, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(main(int(sys.argv[1]), sys.argv[2], sys.argv[3:]))
