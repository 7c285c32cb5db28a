"""The mesh end to end: 3 clusters x 2 nodes as real xmeshd processes on 127.0.1.x, r2r
links over mutual TLS 1.3, one SQLite store per cluster. Messages, presence and
subscriptions between users of every pair of nodes; link resets under traffic; the
directory following users added while the mesh runs; peers refused for speaking for
users they do not serve.

Run: /usr/bin/python3 -m unittest -v test_mesh  (XMESHD / XMESHCTL name the binaries)
"""
import itertools
import re
import socket
import threading
import time
import unittest

from harness import DOMAIN
from mesh_harness import Mesh, seen


def body_ids(text: str, tag: str):
    return [int(m) for m in re.findall(rf"<body>{tag}-(\d+)</body>", text)]


def available(client):
    """Initial presence: a bare-JID message reaches only available resources (else it
    is stored offline), so recipients announce themselves first."""
    client.send("<presence/>")
    client.collect(0.2)


class MeshTest(unittest.TestCase):
    mesh: Mesh

    @classmethod
    def setUpClass(cls):
        cls.mesh = Mesh(clusters=3, nodes_per_cluster=2)
        # One user per node for the all-pairs tests, plus named users per test.
        for n in cls.mesh.nodes:
            cls.mesh.add_user(f"u{n.id}", n.id)
        for name, home in (("alice", "n11"), ("bob", "n31"), ("carol", "n12"), ("dave", "n22"),
                           ("erin", "n21"), ("frank", "n32"), ("grace", "n11"), ("heidi", "n22")):
            cls.mesh.add_user(name, home)
        cls.mesh.start()

    @classmethod
    def tearDownClass(cls):
        cls.mesh.__exit__(None, None, None)

    def test_messages_between_every_pair_of_nodes(self):
        clients = {n.id: self.mesh.login(f"u{n.id}") for n in self.mesh.nodes}
        for c in clients.values():
            available(c)
        try:
            for a, b in itertools.permutations(self.mesh.nodes, 2):
                clients[a.id].send(f"<message to='u{b.id}@{DOMAIN}' type='chat' id='{a.id}-{b.id}'>"
                                   f"<body>from-{a.id}</body></message>")
            for b in self.mesh.nodes:
                for a in self.mesh.nodes:
                    if a is b:
                        continue
                    m = seen(clients[b.id],
                             rf"<message\b[^>]*from='u{a.id}@{DOMAIN}/r'[^>]*>(?:(?!</message>).)*"
                             rf"<body>from-{a.id}</body>")
                    self.assertIn(f"to='u{b.id}@{DOMAIN}", m)
        finally:
            for c in clients.values():
                c.close()

    def test_subscriptions_and_presence_between_every_pair_of_nodes(self):
        # One user per node ("s" + node id); every user subscribes to every other one and
        # approves every request, so each pair ends with subscription both ways.
        nodes = self.mesh.nodes
        for n in nodes:
            if f"s{n.id}" not in self.mesh.homes:
                self.mesh.add_user(f"s{n.id}", n.id)
        time.sleep(2.5)  # the store poll (1 s) and the dir records announce them
        cs = {n.id: self.mesh.login(f"s{n.id}") for n in nodes}
        try:
            for n in nodes:
                cs[n.id].send("<iq type='get' id='r1'><query xmlns='jabber:iq:roster'/></iq>")
                seen(cs[n.id], r"<iq\b[^>]*id='r1'")
                available(cs[n.id])  # requests go to available resources
            for a, b in itertools.permutations(nodes, 2):
                cs[a.id].send(f"<presence to='s{b.id}@{DOMAIN}' type='subscribe'/>")
            for a, b in itertools.permutations(nodes, 2):
                seen(cs[b.id], rf"<presence\b[^>]*from='s{a.id}@{DOMAIN}'[^>]*type='subscribe'")
            for a, b in itertools.permutations(nodes, 2):
                cs[b.id].send(f"<presence to='s{a.id}@{DOMAIN}' type='subscribed'/>")
            for a, b in itertools.permutations(nodes, 2):
                seen(cs[a.id], rf"<item\b[^>]*jid='s{b.id}@{DOMAIN}'[^>]*subscription='both'")
            # Everyone changes status: each sees the five others' (one fan-out per node).
            for n in nodes:
                cs[n.id].send(f"<presence><status>at {n.id}</status></presence>")
            for a, b in itertools.permutations(nodes, 2):
                seen(cs[a.id], rf"<presence\b[^>]*from='s{b.id}@{DOMAIN}/r'[^>]*>\s*<status>at {b.id}</status>")
        finally:
            for c in cs.values():
                c.close()

    def test_subscription_and_presence_across_clusters(self):
        alice = self.mesh.login("alice")   # n11, cluster 1
        bob = self.mesh.login("bob")       # n31, cluster 3
        try:
            for c in (alice, bob):
                c.send("<iq type='get' id='r1'><query xmlns='jabber:iq:roster'/></iq>")
                c.read_until(r"<iq\b[^>]*id='r1'")
                c.send("<presence/>")
            alice.send(f"<presence to='bob@{DOMAIN}' type='subscribe'/>")
            seen(bob, rf"<presence\b[^>]*from='alice@{DOMAIN}'[^>]*type='subscribe'")
            bob.send(f"<presence to='alice@{DOMAIN}' type='subscribed'/>")
            seen(alice, rf"<presence\b[^>]*from='bob@{DOMAIN}'[^>]*type='subscribed'")
            # Alice's roster now says subscription='to', and bob's current presence reaches her.
            seen(alice, rf"<item\b[^>]*jid='bob@{DOMAIN}'[^>]*subscription='to'")
            seen(alice, rf"<presence\b[^>]*from='bob@{DOMAIN}/r'[^>]*to='alice@{DOMAIN}'(?![^>]*type=)")
            # Bob goes away: one fan-out reaches alice on the other cluster.
            bob.send("<presence><show>away</show></presence>")
            seen(alice, rf"<presence\b[^>]*from='bob@{DOMAIN}/r'[^>]*>\s*<show>away</show>")
            # A new session of alice probes bob's node and gets his presence back.
            alice2 = self.mesh.login("alice", resource="second")
            try:
                alice2.send("<presence/>")
                seen(alice2, rf"<presence\b[^>]*from='bob@{DOMAIN}/r'[^>]*>\s*<show>away</show>")
            finally:
                alice2.close()
            bob.send("<presence type='unavailable'/>")
            seen(alice, rf"<presence\b[^>]*from='bob@{DOMAIN}/r'[^>]*type='unavailable'")
        finally:
            alice.close()
            bob.close()

    def test_offline_message_to_a_remote_user_waits_at_its_home(self):
        carol = self.mesh.login("carol")   # n12
        n12, n22 = self.mesh.by_id["n12"], self.mesh.by_id["n22"]
        stored12 = n12.metrics().get("xmesh_offline_stored_total", 0)
        stored22 = n22.metrics().get("xmesh_offline_stored_total", 0)
        try:
            carol.send(f"<message to='dave@{DOMAIN}' type='chat' id='off1'><body>while-away</body></message>")
            time.sleep(1.0)  # stored by dave's node (n22), not by carol's
            self.assertEqual(n12.metrics().get("xmesh_offline_stored_total", 0), stored12)
            self.assertEqual(n22.metrics().get("xmesh_offline_stored_total", 0), stored22 + 1)
        finally:
            carol.close()
        dave = self.mesh.login("dave")
        try:
            dave.send("<presence/>")
            m = dave.read_until(r"<message\b.*?<body>while-away</body>.*?</message>")
            self.assertIn("urn:xmpp:delay", m.group(0))
        finally:
            dave.close()

    def test_iq_round_trip_to_a_full_jid_on_another_cluster(self):
        erin = self.mesh.login("erin")     # n21
        frank = self.mesh.login("frank")   # n32
        try:
            erin.send(f"<iq type='get' id='v1' to='frank@{DOMAIN}/r'><query xmlns='jabber:iq:version'/></iq>")
            frank.read_until(rf"<iq\b[^>]*from='erin@{DOMAIN}/r'[^>]*id='v1'|<iq\b[^>]*id='v1'[^>]*from='erin@{DOMAIN}/r'")
            frank.send(f"<iq type='result' id='v1' to='erin@{DOMAIN}/r'><query xmlns='jabber:iq:version'>"
                       f"<name>frank-client</name></query></iq>")
            erin.read_until(r"<iq\b[^>]*type='result'[^>]*>.*?frank-client")
            # A request to a resource that does not exist is answered by frank's node.
            erin.send(f"<iq type='get' id='v2' to='frank@{DOMAIN}/nope'><query xmlns='jabber:iq:version'/></iq>")
            erin.read_until(r"<iq\b[^>]*id='v2'[^>]*type='error'.*?service-unavailable|"
                            r"<iq\b[^>]*type='error'[^>]*id='v2'.*?service-unavailable")
        finally:
            erin.close()
            frank.close()

    def test_link_resets_under_traffic_lose_and_duplicate_nothing(self):
        grace = self.mesh.login("grace")   # n11
        heidi = self.mesh.login("heidi")   # n22
        available(heidi)
        n11, n22 = self.mesh.by_id["n11"], self.mesh.by_id["n22"]
        before = n11.link("n22")["connections"]
        total = 3000
        stop = threading.Event()

        def reset_links():
            # Cut the n11-n22 link three times while the messages flow, each time once
            # the link is back up.
            for _ in range(3):
                if stop.wait(0.1):
                    return
                c = n11.link("n22")["connections"]
                n11.http_get("/mesh/reset-link?peer=n22")
                deadline = time.monotonic() + 10
                while time.monotonic() < deadline and not stop.is_set():
                    l = n11.link("n22")
                    if l["connections"] > c and l["state"] == "established":
                        break
                    time.sleep(0.02)

        t = threading.Thread(target=reset_links)
        try:
            t.start()
            for i in range(total):
                grace.send(f"<message to='heidi@{DOMAIN}' type='chat'><body>seq-{i}</body></message>")
                if i % 300 == 0:
                    time.sleep(0.05)
            t.join()
            deadline = time.monotonic() + 30
            got = []
            while time.monotonic() < deadline and len(got) < total:
                heidi.collect(0.3)
                got = body_ids(heidi.pending_text(), "seq")
            heidi.collect(0.5)
            got = body_ids(heidi.pending_text(), "seq")
            self.assertEqual(got, list(range(total)), "lost, duplicated or reordered across resets")
            self.assertGreaterEqual(n11.link("n22")["connections"], before + 3)
        finally:
            stop.set()
            grace.close()
            heidi.close()

    def test_users_added_while_running_reach_every_node(self):
        self.mesh.add_user("late", "n32")
        n11 = self.mesh.by_id["n11"]
        deadline = time.monotonic() + 10
        before = None
        # The directory change is polled from the store and announced to every peer.
        u = self.mesh.login("un11")
        late = None
        try:
            while time.monotonic() < deadline:
                if late is None:
                    late = self.mesh.login("late")
                    available(late)
                u.send(f"<message to='late@{DOMAIN}' type='chat'><body>hello-late</body></message>")
                try:
                    late.read_until(r"<body>hello-late</body>", timeout=1.0)
                    break
                except AssertionError as e:
                    before = e
            else:
                self.fail(f"late user never reachable from n11: {before}")
        finally:
            u.close()
            if late:
                late.close()

    def test_status_and_metrics_show_every_link(self):
        n = self.mesh.by_id["n21"]
        st = n.status()["mesh"]
        self.assertEqual(sorted(l["peer"] for l in st["links"]), ["n11", "n12", "n22", "n31", "n32"])
        for l in st["links"]:
            self.assertEqual(l["state"], "established")
            self.assertEqual(l["dialer"], "n21" < l["peer"])
        m = n.metrics()
        self.assertEqual(m['xmesh_r2r_link_up{peer="n31",cluster="c3"}'], 1)
        # The operator's view: xmeshctl status queries every node's admin endpoint.
        out = self.mesh.ctl("status", self.mesh.topology_path)
        self.assertEqual(out.count("r2r links 5/5 established"), 6, out)
        self.assertIn("link n21 -> n31: established", out)
        self.assertIn("link n21 <- n11: established", out)
        self.assertGreater(m["xmesh_mesh_directory_users"], 10)


if __name__ == "__main__":
    unittest.main()
