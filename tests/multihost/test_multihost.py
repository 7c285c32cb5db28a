#!/usr/bin/python3
"""Multi-host tests (issue 6, part 5): a real deployment spread over network namespaces,
one host per xmeshd and one for PostgreSQL (layout: netlab.py).

Two clusters, each one HA redundancy pair (c1 = n1 + n2, c2 = n3 + n4), r2r over mutual
TLS 1.3 with certificates from `xmeshctl cert`, both clusters on the PostgreSQL store
(one database per cluster on the one server, users imported with `xmeshctl --db
postgresql://... import` from an `xmesh-loadgen gen-population` file), the drill's SRM
timers (200 ms heartbeat, 1 s timeout). The test's clients are plain XMPP clients
(tests/e2e/harness.py RawClient) on the LAN's hub host.

1. messages and presence between users of all four nodes, across both clusters;
2. a node's host cut off the LAN (its link down): its peer takes its users over, they
   log in again there and are reachable from the other cluster; the link back: the cut
   node learns it was failed over, `xmeshctl fallback` settles the pair, messages flow;
3. PostgreSQL stopped (fast shutdown) and restarted under traffic: routing between
   online users goes on, a login meanwhile fails at once with temporary-auth-failure,
   after the restart logins work again and nobody was failed over; a message sent
   meanwhile to an offline user is held by its home and delivered later, not lost;
4. a cut shorter than the r2r link timeout (the TCP connections survive it): the cut
   node heals as Failed Over too. (This test found the bug: the heartbeats held in the
   surviving connection arrived late and the isolated node healed on the stale ones,
   taking its users back; the SRM now decides only on heartbeats that echo a recent one
   of its own.)

The network, the database server and each test's four nodes and two databases are
fresh per class / per test; everything is stopped by PID and deleted at the end.
Skipped only where network namespaces cannot be created.

Run: /usr/bin/python3 -m unittest -v test_multihost   (XMESHD / XMESHCTL / XMESH_LOADGEN
name the binaries; XMESH_MULTIHOST_KEEP=1 keeps the temp dir with logs)
"""
import atexit
import os
import re
import signal
import time
import unittest

import netlab
from netlab import DOMAIN, Deployment, Lab, Postgres, RawClient, node_address, password, wait_for
from harness import AuthFailed
from mesh_harness import seen  # waits for a pattern in what a client received

SRM = "\n".join([
    'heartbeat_interval = "200ms"',
    'heartbeat_timeout = "1s"',
    'init_heartbeat_timeout = "3s"',
])
USERS = 8  # two per node


def msg(to: str, body: str, id: str) -> str:
    return f"<message to='{to}@{DOMAIN}' id='{id}' type='chat'><body>{body}</body></message>"


def link_state(node, peer: str) -> str:
    return next(l["state"] for l in node.status()["mesh"]["links"] if l["peer"] == peer)


def _exit_on_sigterm(*_):
    raise SystemExit(143)


class MultiHost(unittest.TestCase):
    lab = None
    pg = None

    @classmethod
    def setUpClass(cls):
        why = netlab.namespaces_unavailable()
        if why:
            raise unittest.SkipTest(f"multi-host tests need network namespaces: {why}")
        # Killed by a signal? Still clean up (SIGTERM -> exit -> atexit).
        signal.signal(signal.SIGTERM, _exit_on_sigterm)
        cls.lab = Lab()
        atexit.register(cls._close_class)
        try:
            cls._build()
        except BaseException:
            cls._close_class()
            raise

    @classmethod
    def _build(cls):
        t0 = time.monotonic()
        lab = cls.lab
        lab.up()
        lab.add_host("db", netlab.DB_ADDR)
        for c, ids in Deployment.CLUSTERS.items():
            for i in ids:
                lab.add_host(i, node_address(i))
        cls.pg = Postgres(lab)
        cls.pg.init()
        cls.pg.start()
        # Topology, certificates and population are the same for every test.
        cls.topology = os.path.join(lab.tmp, "mesh.toml")
        with open(cls.topology, "w") as f:
            f.write(netlab.topology_toml(SRM))
        certs = os.path.join(lab.tmp, "certs")
        netlab.run([netlab.XMESHCTL, "cert", "ca", "--out", certs])
        netlab.run([netlab.XMESHCTL, "cert", "node", "--ca", certs, "--topology", cls.topology, "--out", certs])
        pop = os.path.join(lab.tmp, "pop.csv")
        netlab.run([netlab.LOADGEN, "gen-population", "--users", str(USERS), "--avg-contacts", "4",
                    "--topology", cls.topology, "--out", pop])
        cls.homes, cls.contacts, cls.populations = {}, {}, {}
        lines = {c: [] for c in Deployment.CLUSTERS}
        with open(pop) as f:
            for line in f:
                fields = line.rstrip("\n").split(",")
                user, home = fields[0], fields[-1]
                cls.homes[user] = home
                cls.contacts[user] = {j.split("@")[0] for j in fields[-2].split(";") if j}
                cluster = next(c for c, ids in Deployment.CLUSTERS.items() if home in ids)
                lines[cluster].append(line)
        for c, ls in lines.items():
            cls.populations[c] = os.path.join(lab.tmp, f"pop-{c}.csv")
            with open(cls.populations[c], "w") as f:
                f.writelines(ls)
        cls.users_of = {n: sorted((u for u, h in cls.homes.items() if h == n), key=lambda u: int(u[4:]))
                        for ids in Deployment.CLUSTERS.values() for n in ids}
        if any(len(us) < 2 for us in cls.users_of.values()):
            raise RuntimeError(f"gen-population did not give every node two users: {cls.users_of}")
        print(f"\nlab up in {time.monotonic() - t0:.1f}s: {lab.tmp}; homes {cls.users_of}", flush=True)

    @classmethod
    def _close_class(cls):
        if cls.pg is not None:
            cls.pg.stop()
        if cls.lab is not None:
            cls.lab.close()

    @classmethod
    def tearDownClass(cls):
        cls._close_class()

    def setUp(self):
        self.t0 = time.monotonic()
        tag = re.sub(r"\W", "", self._testMethodName.split("_")[1])
        self.dep = Deployment(self.lab, self.pg, f"t{tag}", self.topology, self.populations)
        self.addCleanup(self._cleanup)
        self.dep.provision()
        self.dep.start()
        self.n1, self.n2, self.n3, self.n4 = (self.dep.by_id[i] for i in ("n1", "n2", "n3", "n4"))

    def _cleanup(self):
        try:
            result = getattr(getattr(self, "_outcome", None), "result", None)
            if result is not None and any(t is self for t, _ in result.failures + result.errors):
                for n in self.dep.nodes:
                    print(f"--- {n.id} log tail\n{n.log_tail(25)}")
            if self.pg.proc is None or self.pg.proc.poll() is not None:
                self.pg.start()  # a test that stopped it and failed before restarting it
        finally:
            self.dep.close()
            print(f"{self._testMethodName}: {time.monotonic() - self.t0:.1f}s", flush=True)

    # -- helpers --------------------------------------------------------------------------
    def online(self, user: str, node: str, resource: str = "r") -> RawClient:
        c = self.dep.login(user, node, resource)
        c.send("<presence/>")
        return c

    def try_login(self, user: str, node: str):
        """("ok", client) | ("see-other-host", "host:port") | ("failure", condition)."""
        n = self.dep.by_id[node]
        c = RawClient(netlab.C2S_PORT, host=n.address, timeout=10)
        self.dep.clients.append(c)
        try:
            c.login(user, password(user), resource="again")
            return "ok", c
        except AuthFailed as e:
            return "failure", e.condition
        except AssertionError:
            m = re.search(r"<see-other-host[^>]*>([^<]+)</see-other-host>", c.text)
            if m:
                return "see-other-host", m.group(1)
            m = re.search(r"<iq[^>]*id=['\"]bind1['\"][^>]*type=['\"]error['\"].*?</iq>", c.text, re.S)
            if m:
                return "bind-error", m.group(0)
            raise

    def exchange(self, clients: dict, tag: str):
        """Every client sends one message to every other; each arrives, from the right JID."""
        for a, ca in clients.items():
            for b in clients:
                if a != b:
                    ca.send(msg(b, f"{tag}-{a}-to-{b}", f"{tag}-{a}-{b}"))
        for b, cb in clients.items():
            for a in clients:
                if a != b:
                    seen(cb, rf"<message[^>]*from=['\"]{a}@{DOMAIN}/[^'\"]+['\"][^>]*>"
                             rf"(?:(?!</message>).)*<body>{tag}-{a}-to-{b}</body>")

    def assert_login_refused_at_once(self, *nodes: str):
        for node in nodes:
            t = time.monotonic()
            outcome = self.try_login(self.second_user(node), node)
            took = time.monotonic() - t
            self.assertEqual(outcome, ("failure", "temporary-auth-failure"), f"login on {node} while the db is down")
            self.assertLess(took, 3.0, f"the refused login on {node} took {took:.2f}s")

    def login_when_back(self, user: str, node: str, refusals: list, timeout: float = 10.0) -> RawClient:
        """Logs in once the store answers again. Until then only temporary refusals are
        accepted: SASL temporary-auth-failure, or a bind error of type wait (a store
        worker that has not reconnected yet: it retries at most once a second)."""
        got = []

        def ok():
            outcome, c = self.try_login(user, node)
            if outcome == "ok":
                got.append(c)
                return True
            if (outcome, c) == ("failure", "temporary-auth-failure"):
                refusals.append(f"{user}@{node}: sasl temporary-auth-failure")
            elif outcome == "bind-error" and "type='wait'" in c:
                refusals.append(f"{user}@{node}: bind {re.sub(r'<[^>]*>', ' ', c).split()}")
            else:
                self.fail(f"{user} on {node} after the restart: {outcome} {c}")
            return False
        wait_for(ok, timeout, f"{user} logs in on {node} after the restart", step=0.2)
        return got[0]

    def first_user(self, node: str) -> str:
        return self.users_of[node][0]

    def second_user(self, node: str) -> str:
        return self.users_of[node][1]

    # -- 1 --------------------------------------------------------------------------------
    def test_1_messages_and_presence_across_hosts_and_clusters(self):
        users = {n: self.first_user(n) for n in ("n1", "n2", "n3", "n4")}
        clients = {}
        for n, u in users.items():
            clients[u] = self.online(u, n)
        # Presence: each user sees every other online user its roster (the generated
        # population's) holds, across hosts and clusters.
        pairs = [(a, b) for a in clients for b in clients if a != b and b in self.contacts[a]]
        cross = [(a, b) for a, b in pairs if self.homes[a][1] in "12" and self.homes[b][1] in "34"]
        self.assertTrue(cross, f"the population has no roster edge across clusters between {list(clients)}")
        for a, b in pairs:
            seen(clients[a], rf"<presence[^>]*from=['\"]{b}@{DOMAIN}/r['\"]")
        # Messages: all 12 directed pairs, within and across hosts and clusters.
        self.exchange(clients, "m")
        for n in self.dep.nodes:
            m = n.metrics()
            self.assertGreater(m.get("xmesh_mesh_forwarded_total", 0), 0, n.id)
            self.assertGreater(m.get("xmesh_mesh_received_total", 0), 0, n.id)

    # -- 2 --------------------------------------------------------------------------------
    def test_2_a_host_cut_off_its_peer_takes_over_and_the_pair_settles_when_it_is_back(self):
        alice, bob, carol, dave = (self.first_user(n) for n in ("n1", "n2", "n3", "n4"))
        a1 = self.online(alice, "n1")
        b = self.online(bob, "n2")
        c = self.online(carol, "n3")
        d = self.online(dave, "n4")
        c.send(msg(alice, "before-cut", "x0"))
        seen(a1, r"<body>before-cut</body>")

        self.lab.set_link("n1", up=False)
        cut = time.monotonic()
        wait_for(lambda: self.n2.srm()["state_slug"] == "running-in-backup-mode", 6, "n2 took over n1's users",
                 step=0.02)
        took = time.monotonic() - cut
        s2 = self.n2.srm()
        self.assertEqual(s2["reason_slug"], "peer-down", s2)
        self.assertTrue(s2["serving_peer_users"] and s2["serving_own_users"], s2)
        self.assertLess(took, 3.0, f"takeover took {took:.2f}s")
        # The cut-off host fenced itself: without its peer and without the database it
        # holds no lease and serves nobody (asked on its own host).
        s1 = wait_for(lambda: (lambda s: s if not s["serving_own_users"] else None)(self.n1.srm_from_inside()),
                      3, "n1 stopped serving its users")
        self.assertFalse(s1["serving_peer_users"], s1)
        # The other cluster reroutes n1's users to n2 at once.
        for n in (self.n3, self.n4):
            wait_for(lambda n=n: "n1" in n.status()["mesh"]["failed_over"], 3, f"{n.id} knows n1 failed over")
        # alice logs in again: on the peer. Reached from both clusters, reaching them.
        outcome, a2 = self.try_login(alice, "n2")
        self.assertEqual(outcome, "ok", a2)
        a2.send("<presence/>")
        c.send(msg(alice, "from-c2-after-cut", "x1"))
        seen(a2, r"<body>from-c2-after-cut</body>")
        b.send(msg(alice, "from-peer-after-cut", "x2"))
        seen(a2, r"<body>from-peer-after-cut</body>")
        a2.send(msg(dave, "from-backup", "x3"))
        seen(d, r"<body>from-backup</body>")
        # The host stays gone until the mesh has noticed: the r2r links to it time out
        # (3 s of silence) and are closed, as with a host that is really gone.
        for n in (self.n2, self.n3, self.n4):
            wait_for(lambda n=n: link_state(n, "n1") != "established", 8, f"{n.id}'s link to n1 down")
        print(f"takeover {took:.2f}s after the cut; links down {time.monotonic() - cut:.2f}s after", flush=True)

        # The link back: n1 hears n2 again and learns its users are served there.
        self.lab.set_link("n1", up=True)
        back = time.monotonic()
        wait_for(lambda: self.n1.srm()["state_slug"] in ("failed-over", "idle"), 20, "n1 back, failed over")
        self.assertFalse(self.n1.srm()["serving_own_users"])
        self.assertEqual(self.try_login(alice, "n1"), ("see-other-host", f"{self.n2.address}:{netlab.C2S_PORT}"))
        print(f"n1 settled failed over {time.monotonic() - back:.2f}s after the link came back", flush=True)
        self.dep.wait_mesh(20)

        # Accepted once n1's store (the witness) answers again: until then it is Failed
        # Over with a critical service down and refuses.
        wait_for(lambda: "fallback accepted" in self.dep.ctl("fallback", "n1", "--topology", self.topology,
                                                              check=False), 10, "xmeshctl fallback n1", step=0.3)
        wait_for(lambda: self.n1.srm()["state_slug"] == "normal" and self.n2.srm()["state_slug"] == "normal",
                 6, "both Normal after the fallback")
        for n in (self.n3, self.n4):
            wait_for(lambda n=n: "n1" not in n.status()["mesh"]["failed_over"], 3, f"{n.id} knows n1 is back")
        self.assertEqual(self.try_login(alice, "n2")[0], "see-other-host")
        outcome, home = self.try_login(alice, "n1")
        self.assertEqual(outcome, "ok", home)
        home.send("<presence/>")
        c.send(msg(f"{alice}", "home-again", "x4"))
        seen(home, r"<body>home-again</body>")
        home.send(msg(carol, "from-home", "x5"))
        seen(c, r"<body>from-home</body>")
        home.send(msg(bob, "to-peer", "x6"))
        seen(b, r"<body>to-peer</body>")

    # -- 3 --------------------------------------------------------------------------------
    def test_3_the_database_stopped_and_restarted_under_traffic(self):
        users = {n: self.first_user(n) for n in ("n1", "n2", "n3", "n4")}
        clients = {u: self.online(u, n) for n, u in users.items()}
        self.exchange(clients, "pre")
        # A burst in flight when the database goes down.
        for a, ca in clients.items():
            for b in clients:
                if a != b:
                    ca.send(msg(b, f"burst-{a}-to-{b}", f"burst-{a}-{b}"))
        self.pg.stop()
        down = time.monotonic()
        for b, cb in clients.items():
            for a in clients:
                if a != b:
                    seen(cb, rf"<body>burst-{a}-to-{b}</body>")
        # While it is down: routing between online users goes on, both ways, across
        # clusters and inside each pair, presence too.
        self.exchange(clients, "down")
        u1 = users["n1"]
        clients[u1].send("<presence><show>away</show></presence>")
        for u in clients:
            if u != u1 and u1 in self.contacts[u]:
                seen(clients[u], rf"<presence[^>]*from=['\"]{u1}@{DOMAIN}/r['\"][^>]*>"
                                         rf"(?:(?!</presence>).)*<show>away</show>")
        # A message to an offline user meanwhile (its home's database is down): its home
        # holds it and writes it once the database is back, so the user reads it at its
        # next login; never refused (the sender may be gone) nor dropped (checked after
        # the restart).
        sender, offline = users["n3"], self.second_user("n2")
        clients[sender].send(msg(offline, "while-db-down", "off1"))
        # A login meanwhile fails at once with a temporary error, on both clusters.
        self.assert_login_refused_at_once("n1", "n3")
        # Longer than a store worker's reconnect interval (1 s) and libpq's connect
        # timeout: still routing, still refusing logins at once.
        time.sleep(max(0.0, 2.5 - (time.monotonic() - down)))
        self.exchange(clients, "still-down")
        self.assert_login_refused_at_once("n2", "n4")
        # Nobody moves: the pairs still hear each other (the witness is down, the lease
        # holds on the peer's echo).
        for n in self.dep.nodes:
            s = n.srm()
            self.assertTrue(s["serving_own_users"] and not s["serving_peer_users"], f"{n.id}: {s}")
        print(f"database down {time.monotonic() - down:.2f}s", flush=True)

        self.pg.start()
        up = time.monotonic()
        # Logins work again, without restarting anything.
        refusals = []
        for node in ("n1", "n3"):
            u = self.second_user(node)
            clients[u] = self.login_when_back(u, node, refusals)
            clients[u].send("<presence/>")
        print(f"logins back {time.monotonic() - up:.2f}s after the restart; refused meanwhile: {refusals}",
              flush=True)
        late = self.login_when_back(offline, "n2", refusals)
        late.send("<presence/>")
        bounced = r"<message[^>]*id=['\"]off1['\"][^>]*type=['\"]error['\"]|" \
                  r"<message[^>]*type=['\"]error['\"][^>]*id=['\"]off1['\"]"
        deadline = time.monotonic() + 5
        while not re.search(r"<body>while-db-down</body>", late.text):
            self.assertIsNone(re.search(bounced, clients[sender].text),
                              "the message to an offline user was refused instead of held")
            self.assertLess(time.monotonic(), deadline,
                            "the message to an offline user sent while the database was down was not "
                            f"delivered after the restart; sender got: {clients[sender].text[-800:]!r}")
            late.collect(0.1)
            clients[sender].collect(0.05)
        print(f"the message to the offline user: delivered {time.monotonic() - up:.2f}s after the restart",
              flush=True)
        self.exchange(clients, "after")
        for n in self.dep.nodes:
            self.assertEqual(n.srm()["state_slug"], "normal", n.id)

    # -- 4 --------------------------------------------------------------------------------
    def test_4_a_short_cut_heals_as_failed_over(self):
        """The host is back before the r2r links time out (under 3 s): the TCP connections
        survive the cut. srm.h, rule 4: the isolated node that hears its peer again, the
        peer having taken its users over, becomes Failed Over (Peer Down)."""
        alice, carol = self.first_user("n1"), self.first_user("n3")
        self.online(alice, "n1")
        c = self.online(carol, "n3")
        self.lab.set_link("n1", up=False)
        wait_for(lambda: self.n2.srm()["state_slug"] == "running-in-backup-mode", 6, "n2 took over", step=0.02)
        self.assertEqual(link_state(self.n2, "n1"), "established")  # the cut is shorter than the link timeout
        self.lab.set_link("n1", up=True)
        # Stale heartbeats held in the surviving connection (the peer still Normal) must
        # not heal n1 back to Normal: srm/srm_peer.cc, Srm::current.
        wait_for(lambda: self.n1.srm()["state_slug"] in ("failed-over", "idle"), 5, "n1 healed failed over")
        self.assertTrue(self.n2.srm()["serving_peer_users"])
        # Then as after a long cut: the fallback brings alice home.
        wait_for(lambda: "fallback accepted" in self.dep.ctl("fallback", "n1", "--topology", self.topology,
                                                              check=False), 10, "xmeshctl fallback n1", step=0.3)
        wait_for(lambda: self.n1.srm()["state_slug"] == "normal" and self.n2.srm()["state_slug"] == "normal",
                 6, "both Normal after the fallback")
        outcome, home = self.try_login(alice, "n1")
        self.assertEqual(outcome, "ok", home)
        home.send("<presence/>")
        c.send(msg(alice, "after-short-cut", "y1"))
        seen(home, r"<body>after-short-cut</body>")


if __name__ == "__main__":
    unittest.main()
