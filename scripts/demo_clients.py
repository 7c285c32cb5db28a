#!/usr/bin/python3
"""Drives a running xmeshd with real XMPP clients (slixmpp, from Debian) for the README's
main-job command until xmesh-loadgen takes over: N users log in over STARTTLS with
SCRAM-SHA-1, exchange subscriptions and presence, chat for a while, and one message is
delivered offline. Prints a readable report; exits non-zero if anything was lost."""
import argparse, asyncio, ssl, statistics, sys, time
import slixmpp


class User(slixmpp.ClientXMPP):
    def __init__(self, jid, password):
        super().__init__(jid, password, sasl_mech="SCRAM-SHA-1")
        self.ssl_context.check_hostname = False
        self.ssl_context.verify_mode = ssl.CERT_NONE
        self.online = asyncio.Event()
        self.received = {}
        self.latencies = []
        self.add_event_handler("session_start", self._start)
        self.add_event_handler("message", self._message)

    async def _start(self, _):
        self.send_presence()
        await self.get_roster()
        self.online.set()

    def _message(self, msg):
        body = msg["body"]
        if body.startswith("lg "):
            _, sender, seq, ts = body.split(" ")
            key = (sender, int(seq))
            self.received[key] = self.received.get(key, 0) + 1
            self.latencies.append((time.time() - float(ts)) * 1000.0)
        elif body:
            self.received[("text", body)] = 1


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--users", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=15)
    ap.add_argument("--rate", type=float, default=20.0, help="messages per second per user")
    ap.add_argument("--password", default="secret")
    ap.add_argument("--csv", help="population CSV (xmeshctl import format): take user names from it")
    a = ap.parse_args()

    t0 = time.time()
    if a.csv:
        with open(a.csv) as f:
            names = [line.split(",", 1)[0] for line in f if line.strip() and not line.startswith("#")]
    else:
        names = [f"user{i}" for i in range(1, a.users + 1)]
    names = names[: a.users]
    users = [User(f"{n}@localhost/demo", a.password) for n in names]
    for u in users:
        u.connect(("127.0.0.1", a.port), force_starttls=True)
    await asyncio.wait_for(asyncio.gather(*(u.online.wait() for u in users)), 60)
    login_s = time.time() - t0
    print(f"  {len(users)} users online over STARTTLS + SCRAM-SHA-1 in {login_s:.2f} s")

    sent = {}
    deadline = time.time() + a.seconds
    seq = 0
    while time.time() < deadline:
        for i, u in enumerate(users):
            peer = users[(i + 1 + seq % (len(users) - 1)) % len(users)]
            u.send_message(mto=peer.boundjid.bare, mtype="chat",
                           mbody=f"lg {u.boundjid.bare} {seq} {time.time():.6f}")
            sent[(u.boundjid.bare, seq)] = peer
        seq += 1
        await asyncio.sleep(1.0 / a.rate)
    await asyncio.sleep(2.0)

    delivered = dup = 0
    lat = []
    for u in users:
        lat += u.latencies
        for k, n in u.received.items():
            if k[0] == "text":
                continue
            delivered += 1
            dup += n - 1
    lost = len(sent) - delivered

    # Offline delivery: the last user leaves, gets a message, comes back.
    last = users[-1]
    last.disconnect()
    await asyncio.sleep(0.5)
    users[0].send_message(mto=last.boundjid.bare, mtype="chat", mbody="while you were away")
    await asyncio.sleep(0.5)
    back = User(f"{names[-1]}@localhost/back", a.password)
    back.connect(("127.0.0.1", a.port), force_starttls=True)
    await asyncio.wait_for(back.online.wait(), 20)
    for _ in range(50):
        if ("text", "while you were away") in back.received:
            break
        await asyncio.sleep(0.1)
    offline_ok = ("text", "while you were away") in back.received

    lat.sort()
    def pct(p):
        return lat[min(len(lat) - 1, int(p / 100.0 * len(lat)))] if lat else float("nan")
    print()
    print("  xmesh demo report")
    print("  -----------------------------------------------")
    print(f"  users                     {len(users)}")
    print(f"  messages sent             {len(sent)}")
    print(f"  delivered                 {delivered}")
    print(f"  lost                      {lost}")
    print(f"  duplicated                {dup}")
    print(f"  rate                      {len(sent) / a.seconds:.0f} msg/s (client-bound: slixmpp)")
    print(f"  latency p50 / p99 / max   {pct(50):.2f} / {pct(99):.2f} / {(lat[-1] if lat else 0):.2f} ms")
    print(f"  offline delivery          {'ok' if offline_ok else 'FAILED'}")
    for u in users[:-1] + [back]:
        u.disconnect()
    await asyncio.sleep(0.5)
    return 0 if lost == 0 and dup == 0 and offline_ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
