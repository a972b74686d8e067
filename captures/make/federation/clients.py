#!/usr/bin/env python3
"""Accounts, rosters and clients for the federation experiment (captures/make/federation.sh).

`provision`: writes prosody's internal storage for every domain (internal_plain accounts
with password `secret`, and rosters of mutual subscriptions, RFC 6121 §3) so the experiment
starts with the rosters in place instead of thousands of subscription handshakes.

`run`: logs every account in with slixmpp (no TLS, so the capture shows the stanzas),
fetches the roster and sends initial presence (the server then probes the contacts, RFC
6121 §4.2), changes presence (away, dnd, xa, chat, status text) at a set rate, chats with
contacts, joins one multi-domain chat room (XEP-0045), and logs out with unavailable
presence. Every stanza a client sends or receives is counted per connection and written,
with the connection's local address, to the ground-truth log (JSON).

The roster graph is exact and symmetric: each user has CONTACTS contacts, of which
round(CONTACTS * REMOTE_SHARE) are on other domains (spread evenly over them) and the rest
on its own domain (a circulant graph). Randomness (login order, presence changes, chats) is
drawn from one seeded generator per user, so a run is reproducible up to timing.
"""
import argparse
import asyncio
import json
import os
import random
import sys

SHOWS = [("away", "Out to lunch"), ("dnd", "In a meeting"), ("xa", "Gone home"),
         ("chat", "Free to talk"), (None, "Working"), (None, None)]


def users(n):
    return [f"u{i:03d}" for i in range(n)]


def roster_graph(domains, n, contacts, remote_share):
    """{(domain, index): sorted list of (domain, index)}: the mutual-subscription graph."""
    remote = round(contacts * remote_share) if len(domains) > 1 else 0
    local = contacts - remote
    per_other = remote // (len(domains) - 1) if len(domains) > 1 else 0
    graph = {(d, i): set() for d in domains for i in range(n)}
    for d in domains:
        for i in range(n):
            # Circulant graph on the domain: i ± 1 .. i ± local/2, plus i + n/2 for odd.
            for step in range(1, local // 2 + 1):
                graph[(d, i)].add((d, (i + step) % n))
                graph[(d, (i + step) % n)].add((d, i))
            if local % 2 == 1:
                graph[(d, i)].add((d, (i + n // 2) % n))
                graph[(d, (i + n // 2) % n)].add((d, i))
    for a in range(len(domains)):
        for b in range(a + 1, len(domains)):
            for i in range(n):
                for j in range(per_other):
                    graph[(domains[a], i)].add((domains[b], (i + j) % n))
                    graph[(domains[b], (i + j) % n)].add((domains[a], i))
    return {key: sorted(value) for key, value in graph.items()}


def prosody_path(name):
    """Prosody's datamanager encoding of a host or user name in a path."""
    return "".join(c if c.isalnum() else "%%%02x" % ord(c) for c in name)


def provision(args):
    domains = [d.split("=")[0] for d in args.domains]
    graph = roster_graph(domains, args.users, args.contacts, args.remote_share)
    for d, data in zip(domains, args.data):
        host = os.path.join(data, prosody_path(d))
        os.makedirs(os.path.join(host, "accounts"), exist_ok=True)
        os.makedirs(os.path.join(host, "roster"), exist_ok=True)
        for i, user in enumerate(users(args.users)):
            with open(os.path.join(host, "accounts", user + ".dat"), "w") as f:
                f.write('return {\n\t["password"] = "secret";\n};\n')
            lines = ["return {", '\t[false] = { ["version"] = 1; ["pending"] = {}; };']
            for cd, ci in graph[(d, i)]:
                lines.append(f'\t["u{ci:03d}@{cd}"] = {{ ["subscription"] = "both"; ["groups"] = {{}}; }};')
            lines.append("};")
            with open(os.path.join(host, "roster", user + ".dat"), "w") as f:
                f.write("\n".join(lines) + "\n")


def make_client(jid, contacts, rng, plan):
    import slixmpp

    class Client(slixmpp.ClientXMPP):
        def __init__(self):
            super().__init__(jid + "/fed", "secret")
            self.enable_direct_tls = False
            self.enable_starttls = False
            self.enable_plaintext = True
            self.plugin["feature_mechanisms"].unencrypted_plain = True
            self.plugin["feature_mechanisms"].unencrypted_scram = True
            self.register_plugin("xep_0045")
            self.sent = {"message": 0, "presence": 0, "iq": 0}
            self.received = {"message": 0, "presence": 0, "iq": 0}
            self.local = None
            self.started = False
            self.add_filter("out", self.count(self.sent))
            self.add_filter("in", self.count(self.received))
            self.add_event_handler("session_start", self.start)

        @staticmethod
        def count(table):
            def counter(stanza):
                name = stanza.name
                if name in table:
                    table[name] += 1
                return stanza
            return counter

        async def start(self, _event):
            self.started = True
            self.local = list(self.transport.get_extra_info("sockname")[:2])
            await self.get_roster()
            self.send_presence()
            if plan["muc"]:
                await asyncio.sleep(1.0)
                self.plugin["xep_0045"].join_muc(plan["room"], jid.split("@")[0] + "." + jid.split("@")[1][0])
                await asyncio.sleep(0.5)
                self.send_message(mto=plan["room"], mbody="hello room", mtype="groupchat")

        async def behave(self, until):
            loop = asyncio.get_running_loop()
            while True:
                # Presence changes and chats as Poisson processes (rates per minute).
                rate = (plan["changes"] + plan["chats"]) / 60.0
                wait = rng.expovariate(rate) if rate > 0 else until
                if loop.time() + wait >= until:
                    await asyncio.sleep(max(0.0, until - loop.time()))
                    return
                await asyncio.sleep(wait)
                if not self.started:
                    continue
                if rng.random() < plan["changes"] / (plan["changes"] + plan["chats"]):
                    show, status = rng.choice(SHOWS)
                    self.send_presence(pshow=show, pstatus=status)
                elif contacts:
                    self.send_message(mto=rng.choice(contacts), mbody="ping %d" % rng.randrange(10**6), mtype="chat")

        def leave(self):
            if self.started:
                self.send_presence(ptype="unavailable")
            self.disconnect(wait=1.0)

    return Client()


async def run(args):
    domains = dict(d.split("=") for d in args.domains)
    names = list(domains)
    graph = roster_graph(names, args.users, args.contacts, args.remote_share)
    loop = asyncio.get_running_loop()
    clients = []
    muc_every = max(1, (args.users * len(names)) // max(1, args.muc_users)) if args.muc_users else 0
    for k, (d, i) in enumerate(sorted(graph)):
        rng = random.Random(f"{args.seed}/{d}/{i}")
        jid = f"u{i:03d}@{d}"
        contacts = [f"u{ci:03d}@{cd}" for cd, ci in graph[(d, i)]]
        plan = {"changes": args.changes_per_min, "chats": args.chats_per_min,
                "muc": bool(muc_every) and k % muc_every == 0 and k // muc_every < args.muc_users,
                "room": f"federation@conference.{names[0]}"}
        clients.append((jid, make_client(jid, contacts, rng, plan), rng, domains[d]))
    # The schedule starts once every client exists (building hundreds takes seconds).
    start = loop.time()
    stop = start + args.login_secs + args.run_secs
    clients = [(jid, client, start + rng.uniform(0, args.login_secs),
                stop + rng.uniform(0, args.logout_secs), address)
               for jid, client, rng, address in clients]

    async def life(jid, client, login_at, logout_at, address):
        await asyncio.sleep(max(0.0, login_at - loop.time()))
        client.connect(address, 5222)
        await client.behave(logout_at)
        client.leave()
        try:
            await asyncio.wait_for(client.disconnected, timeout=10)
        except asyncio.TimeoutError:
            pass

    await asyncio.gather(*(life(*c) for c in clients))
    log = [{"jid": jid, "local": client.local, "server": [address, 5222], "logged_in": client.started,
            "sent": client.sent, "received": client.received}
           for jid, client, _, _, address in clients]
    with open(args.log, "w") as f:
        json.dump({"parameters": {k: v for k, v in vars(args).items() if k not in ("log", "command")},
                   "clients": log}, f, indent=1, sort_keys=True)
        f.write("\n")
    missing = [entry["jid"] for entry in log if not entry["logged_in"]]
    if missing:
        print(f"{len(missing)} clients never logged in: {missing[:5]}", file=sys.stderr)
        sys.exit(1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("provision", "run"):
        p = sub.add_parser(name)
        p.add_argument("--domains", nargs="+", required=True, help="NAME=ADDRESS ...")
        p.add_argument("--users", type=int, default=200)
        p.add_argument("--contacts", type=int, default=20)
        p.add_argument("--remote-share", type=float, default=0.5)
    sub.choices["provision"].add_argument("--data", nargs="+", required=True)
    r = sub.choices["run"]
    r.add_argument("--seed", default="1")
    r.add_argument("--login-secs", type=float, default=20)
    r.add_argument("--run-secs", type=float, default=60)
    r.add_argument("--logout-secs", type=float, default=10)
    r.add_argument("--changes-per-min", type=float, default=1.0)
    r.add_argument("--chats-per-min", type=float, default=0.5)
    r.add_argument("--muc-users", type=int, default=20)
    r.add_argument("--log", required=True)
    args = parser.parse_args()
    if args.command == "provision":
        provision(args)
    else:
        asyncio.run(run(args))


main()
