"""Presence redundancy groups end to end (SPEC §4, issue 5): 2 clusters x one HA pair of
real xmeshd processes each, SRM heartbeats over the pair's r2r link, the cluster's
SQLite store as the witness, sub-second timers. kill -9 of a node, manual failover and
fallback through xmeshctl, a restart that comes back failed over, a cut heartbeat link
(both keep serving their own users, nobody takes over), and SIGSTOP/SIGCONT (the peer
takes over; the woken node learns it was failed over and serves nobody).

Users here are plain clients: after a failover they log in again on the node that
serves them (the dual-connection path has its own tests).

Run: /usr/bin/python3 -m unittest -v test_redundancy  (XMESHD / XMESHCTL name the binaries)
"""
import os
import re
import signal
import time
import unittest

from harness import DOMAIN, RawClient
from mesh_harness import PASSWORD, Mesh, seen
from relay import CuttableRelay, OneWayHold

# Heartbeat every 200 ms, peer down after 1 s of silence (the 1-s target).
SRM = "\n".join([
    'heartbeat_interval = "200ms"',
    'heartbeat_timeout = "1s"',
    'init_heartbeat_timeout = "3s"',
    'critical_service_delay = "2s"',
])
TIMEOUT_S = 1.0


def wait_for(pred, timeout: float, what: str, step: float = 0.02):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = pred()
            if last:
                return last
        except OSError as e:  # a node's admin port not up yet
            last = e
        time.sleep(step)
    raise AssertionError(f"{what}: not after {timeout}s (last: {last!r})")


def stopped(pid: int) -> bool:
    """True once every thread of `pid` is in the stopped state (SIGSTOP took effect)."""
    tasks = os.listdir(f"/proc/{pid}/task")
    return all(open(f"/proc/{pid}/task/{t}/stat").read().rsplit(")", 1)[1].split()[0] == "T" for t in tasks)


def try_login(node, user: str):
    """Logs `user` in on `node`: ("ok", client) or ("see-other-host", "host:port")."""
    c = RawClient(node.c2s_port, host=node.address, timeout=10)
    try:
        c.login(user, PASSWORD, resource="r")
        return "ok", c
    except AssertionError:
        m = re.search(r"<see-other-host[^>]*>([^<]+)</see-other-host>", c.text)
        c.close()
        if m:
            return "see-other-host", m.group(1)
        raise


class RedundancyTest(unittest.TestCase):
    def setUp(self):
        self.mesh = Mesh(clusters=2, nodes_per_cluster=2, pairs=True, srm=SRM)
        for name, home in (("alice", "n11"), ("bob", "n12"), ("carol", "n21"), ("dave", "n22")):
            self.mesh.add_user(name, home)
        self.n11, self.n12 = self.mesh.by_id["n11"], self.mesh.by_id["n12"]
        self.n21, self.n22 = self.mesh.by_id["n21"], self.mesh.by_id["n22"]
        self.clients = []

    def tearDown(self):
        for c in self.clients:
            c.close()
        for n in self.mesh.nodes:  # a SIGSTOPped node must be woken to stop
            if n.alive():
                n.proc.send_signal(signal.SIGCONT)
        self.mesh.__exit__(None, None, None)

    def start(self):
        self.mesh.start()
        for n in self.mesh.nodes:
            wait_for(lambda n=n: n.srm()["state_slug"] == "normal", 10, f"{n.id} Normal")

    def login(self, node, user):
        outcome, c = try_login(node, user)
        self.assertEqual(outcome, "ok", f"{user} on {node.id}: {c}")
        self.clients.append(c)
        c.send("<presence/>")
        c.collect(0.2)
        return c

    def addr(self, node) -> str:
        return f"{node.address}:{node.c2s_port}"

    def test_a_healthy_pair_is_normal_and_serves_its_own_users(self):
        self.start()
        for n, peer in ((self.n11, "n12"), (self.n12, "n11")):
            s = n.srm()
            self.assertEqual((s["state"], s["reason"]), ("Normal", "Normal"))
            self.assertEqual(s["peer"], peer)
            self.assertTrue(s["peer_reachable"] and s["lease_valid"] and s["witness_reachable"])
            self.assertTrue(s["serving_own_users"])
            self.assertFalse(s["serving_peer_users"])
            m = n.metrics()
            self.assertGreater(m["xmesh_srm_heartbeats_received_total"], 0)
            self.assertEqual(m['xmesh_srm_state{state="normal"}'], 1)
        # Users log in on their home only; the peer sends them home.
        self.login(self.n11, "alice")
        self.assertEqual(try_login(self.n12, "alice"), ("see-other-host", self.addr(self.n11)))

    def test_kill_9_the_peer_takes_over_within_the_timeout_and_everyone_reroutes(self):
        self.start()
        carol = self.login(self.n21, "carol")
        self.n11.proc.kill()  # SIGKILL: no goodbye
        killed = time.monotonic()
        wait_for(lambda: self.n12.srm()["state_slug"] == "running-in-backup-mode", 5, "n12 in backup mode",
                 step=0.01)
        detected = time.monotonic() - killed
        s = self.n12.srm()
        self.assertEqual(s["reason_slug"], "peer-down")
        self.assertTrue(s["serving_peer_users"] and s["serving_own_users"])
        # Detection is the heartbeat timeout plus the witness margin, well inside 2 s.
        self.assertGreaterEqual(detected, TIMEOUT_S * 0.8)
        self.assertLess(detected, 2.0, f"takeover took {detected:.2f}s")
        # The other cluster learnt it at once and sends alice's traffic to n12.
        wait_for(lambda: "n11" in self.n21.status()["mesh"]["failed_over"], 2, "n21 knows n11 failed over")
        alice = self.login(self.n12, "alice")
        carol.send(f"<message to='alice@{DOMAIN}' id='k1' type='chat'><body>after-kill</body></message>")
        seen(alice, r"<body>after-kill</body>")
        alice.send(f"<message to='carol@{DOMAIN}' id='k2' type='chat'><body>back</body></message>")
        seen(carol, r"<body>back</body>")

        # n11 comes back: it learns from n12 that its users are served there and serves
        # nobody until a fallback.
        self.n11.start()
        wait_for(lambda: self.n11.srm()["state_slug"] in ("failed-over", "idle"), 10, "n11 back failed over")
        self.assertFalse(self.n11.srm()["serving_own_users"])
        self.assertEqual(try_login(self.n11, "alice"), ("see-other-host", self.addr(self.n12)))

        out = self.mesh.ctl("fallback", "n11", "--topology", self.mesh.topology_path)
        self.assertIn("fallback accepted", out)
        wait_for(lambda: self.n11.srm()["state_slug"] == "normal" and self.n12.srm()["state_slug"] == "normal",
                 5, "both Normal after fallback")
        wait_for(lambda: "n11" not in self.n21.status()["mesh"]["failed_over"], 2, "n21 knows n11 is back")
        self.assertEqual(try_login(self.n12, "alice")[0], "see-other-host")
        alice2 = RawClient(self.n11.c2s_port, host=self.n11.address, timeout=10)
        self.clients.append(alice2)
        alice2.login("alice", PASSWORD, resource="home")

    def test_what_another_node_queued_for_a_killed_node_reaches_its_users_on_the_backup(self):
        # n21 holds stanzas for n11 that n11 never acknowledged: some written to n11's
        # socket while it was stopped, some sent after the kill, before anyone knew. When
        # n12 takes n11's users over, n21 takes them back from n11's link and sends them
        # to n12: n11 never comes back, and nothing is lost or doubled.
        self.start()
        carol = self.login(self.n21, "carol")
        self.n11.proc.send_signal(signal.SIGSTOP)  # TCP stays up, n11 reads nothing
        wait_for(lambda: stopped(self.n11.proc.pid), 2, "n11 stopped")
        for i in range(3):
            carol.send(f"<message to='alice@{DOMAIN}' id='w{i}' type='chat'><body>queued-{i}</body></message>")
        time.sleep(0.3)
        self.assertGreaterEqual(self.n21.link("n11")["unacked_units"], 3)
        self.n11.proc.kill()
        for i in range(3, 6):
            carol.send(f"<message to='alice@{DOMAIN}' id='w{i}' type='chat'><body>queued-{i}</body></message>")
        wait_for(lambda: self.n12.srm()["state_slug"] == "running-in-backup-mode", 5, "n12 took over")
        wait_for(lambda: self.n21.metrics().get("xmesh_mesh_reroutes_sent_total", 0) >= 6, 10,
                 "n21 sent n11's queue to n12")
        m21 = self.n21.metrics()
        self.assertEqual(m21["xmesh_mesh_units_withdrawn_total"], 6)
        per_link = 'xmesh_r2r_units_withdrawn_total{peer="n11",cluster="c1"}'
        wait_for(lambda: self.n21.metrics().get(per_link) == 6, 3, "the link's count (refreshed each second)")
        wait_for(lambda: self.n12.metrics().get("xmesh_mesh_reroutes_received_total", 0) >= 6, 5, "n12 got them")
        alice = self.login(self.n12, "alice")  # offline storage on n12 delivers at login
        for i in range(6):
            seen(alice, rf"<body>queued-{i}</body>")
        alice.collect(0.5)
        for i in range(6):
            self.assertEqual(alice.text.count(f"<body>queued-{i}</body>"), 1, alice.text)
        self.assertEqual(self.n12.metrics()["xmesh_mesh_reroutes_deduplicated_total"], 0)

    def test_what_a_killed_node_handled_but_never_acknowledged_is_not_delivered_twice(self):
        # n11 receives carol's messages from n21 and delivers them to alice, but its acks
        # to n21 never arrive (a one-way partition). When n11 dies, n21 takes the messages
        # back and sends them to n12; n12 knows from n11's marks that n11 handled them
        # and drops them: alice, back on n12, does not get them a second time.
        self.mesh.__exit__(None, None, None)
        self.mesh = Mesh(clusters=2, nodes_per_cluster=2, pairs=True, srm=SRM, secure=False)
        for name, home in (("alice", "n11"), ("carol", "n21")):
            self.mesh.add_user(name, home)
        self.n11, self.n12 = self.mesh.by_id["n11"], self.mesh.by_id["n12"]
        self.n21, self.n22 = self.mesh.by_id["n21"], self.mesh.by_id["n22"]
        proxy_port = __import__("harness").free_port()
        self.mesh.write_topology(r2r_overrides={"n21": ("127.0.0.1", proxy_port)})
        proxy = OneWayHold(("127.0.0.1", proxy_port), (self.n21.address, self.n21.r2r_port))
        self.n21.extra_args = ["--r2r-listen", f"{self.n21.address}:{self.n21.r2r_port}"]
        try:
            self.start()
            alice = self.login(self.n11, "alice")
            carol = self.login(self.n21, "carol")
            proxy.hold_from("n11")  # n11 -> n21 (acks included) stops; n21 -> n11 flows
            for i in range(3):
                carol.send(f"<message to='alice@{DOMAIN}' id='h{i}' type='chat'><body>handled-{i}</body></message>")
            for i in range(3):
                seen(alice, rf"<body>handled-{i}</body>")
            wait_for(lambda: self.n11.metrics().get("xmesh_replica_marks_sent_total", 0) >= 1, 5, "n11 marked them")
            time.sleep(0.3)  # n12 acknowledges the mark
            self.assertGreaterEqual(self.n21.link("n11")["unacked_units"], 3)
            self.n11.proc.kill()
            wait_for(lambda: self.n12.srm()["state_slug"] == "running-in-backup-mode", 5, "n12 took over")
            wait_for(lambda: self.n12.metrics().get("xmesh_mesh_reroutes_received_total", 0) >= 3, 10,
                     "n21 sent n11's queue to n12")
            self.assertEqual(self.n12.metrics()["xmesh_mesh_reroutes_deduplicated_total"], 3)
            again = self.login(self.n12, "alice")
            again.collect(1.0)
            self.assertNotIn("handled-", again.text)
        finally:
            proxy.close()

    def test_manual_failover_then_fallback_through_xmeshctl(self):
        self.start()
        out = self.mesh.ctl("failover", "n11", "--topology", self.mesh.topology_path)
        self.assertIn("failover accepted", out)
        wait_for(lambda: self.n11.srm()["state_slug"] == "idle", 5, "n11 Idle")
        s11, s12 = self.n11.srm(), self.n12.srm()
        self.assertEqual(s11["reason"], "On Admin Request")
        self.assertEqual(s12["state_slug"], "running-in-backup-mode")
        self.assertEqual(s12["reason"], "On Admin Request")
        self.assertFalse(s11["serving_own_users"])
        for n in (self.n21, self.n22, self.n12):
            wait_for(lambda n=n: "n11" in n.status()["mesh"]["failed_over"], 2, f"{n.id} knows")
        self.assertEqual(try_login(self.n11, "alice"), ("see-other-host", self.addr(self.n12)))
        alice = self.login(self.n12, "alice")
        dave = self.login(self.n22, "dave")
        dave.send(f"<message to='alice@{DOMAIN}' id='m1' type='chat'><body>to-backup</body></message>")
        seen(alice, r"<body>to-backup</body>")
        # A second failover is refused with the SRM's reason, and the command fails.
        with self.assertRaises(RuntimeError) as e:
            self.mesh.ctl("failover", "n11", "--topology", self.mesh.topology_path)
        self.assertIn("bad-state", str(e.exception))

        # The seeds' restriction: no users are added while a node of the cluster is failed
        # over (the other cluster is not affected).
        with self.assertRaises(RuntimeError) as e:
            self.mesh.add_user("erin", "n12")
        self.assertIn("failed over (n11)", str(e.exception))
        self.mesh.add_user("frank", "n21")

        self.mesh.ctl("fallback", "n11", "--topology", self.mesh.topology_path)
        wait_for(lambda: self.n11.srm()["state_slug"] == "normal" and self.n12.srm()["state_slug"] == "normal",
                 5, "both Normal after fallback")
        wait_for(lambda: "n11" not in self.n22.status()["mesh"]["failed_over"], 2, "n22 knows")

        def add_erin():
            try:
                self.mesh.add_user("erin", "n12")
                return True
            except RuntimeError:
                return False  # the rows in the store follow within a beat
        wait_for(add_erin, 3, "users can be added after the fallback", step=0.2)
        back = RawClient(self.n11.c2s_port, host=self.n11.address, timeout=10)
        self.clients.append(back)
        back.login("alice", PASSWORD, resource="home")
        back.send("<presence/>")
        back.collect(0.2)
        dave.send(f"<message to='alice@{DOMAIN}/home' id='m2' type='chat'><body>to-home</body></message>")
        seen(back, r"<body>to-home</body>")

    def test_a_cut_heartbeat_link_with_both_nodes_alive_moves_nobody(self):
        # n11 dials n12 (lower id): route that link through a relay we can partition.
        proxy_port = __import__("harness").free_port()
        self.mesh.write_topology(r2r_overrides={"n12": ("127.0.0.1", proxy_port)})
        proxy = CuttableRelay(("127.0.0.1", proxy_port), (self.n12.address, self.n12.r2r_port))
        self.n12.extra_args = ["--r2r-listen", f"{self.n12.address}:{self.n12.r2r_port}"]
        try:
            self.start()
            proxy.cut()
            time.sleep(TIMEOUT_S * 3)  # three timeouts of silence
            for n in (self.n11, self.n12):
                s = n.srm()
                self.assertFalse(s["peer_reachable"], n.id)
                self.assertTrue(s["serving_own_users"], f"{n.id}: {s}")
                self.assertFalse(s["serving_peer_users"], f"{n.id}: {s}")
                self.assertNotEqual(s["state_slug"], "running-in-backup-mode")
            self.assertEqual(self.n21.status()["mesh"]["failed_over"], [])
            self.login(self.n11, "alice")
            self.login(self.n12, "bob")
            proxy.heal()
            wait_for(lambda: self.n11.srm()["peer_reachable"] and self.n12.srm()["peer_reachable"], 10,
                     "heartbeats again")
            self.assertEqual(self.n11.srm()["state_slug"], "normal")
        finally:
            proxy.close()

    def test_sigstop_the_peer_takes_over_and_the_woken_node_serves_nobody(self):
        self.start()
        self.n11.proc.send_signal(signal.SIGSTOP)
        stopped = time.monotonic()
        wait_for(lambda: self.n12.srm()["state_slug"] == "running-in-backup-mode", 5, "n12 took over")
        self.assertLess(time.monotonic() - stopped, 2.0)
        alice = self.login(self.n12, "alice")
        self.n11.proc.send_signal(signal.SIGCONT)
        # The woken node learns from n12's heartbeat that its users moved: it must never
        # serve them again on its stale state.
        wait_for(lambda: self.n11.srm()["state_slug"] in ("failed-over", "idle"), 5, "n11 knows it failed over")
        s = self.n11.srm()
        self.assertFalse(s["serving_own_users"], s)
        self.assertEqual(try_login(self.n11, "alice"), ("see-other-host", self.addr(self.n12)))
        self.assertTrue(self.n12.srm()["serving_peer_users"])
        carol = self.login(self.n21, "carol")
        carol.send(f"<message to='alice@{DOMAIN}' id='s1' type='chat'><body>after-wake</body></message>")
        seen(alice, r"<body>after-wake</body>")


if __name__ == "__main__":
    unittest.main()
