"""Interop across the mesh: stock slixmpp clients (Debian python3-slixmpp) on nodes of
different clusters chat, subscribe to each other and see each other's presence.

Run with Debian's interpreter: /usr/bin/python3 -m unittest -v test_slixmpp_mesh
"""
import asyncio
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
from harness import DOMAIN  # noqa: E402
from mesh_harness import Mesh  # noqa: E402
from test_slixmpp import PASSWORD, Client, body_is, run  # noqa: E402


class MeshClient(Client):
    """The interop client, pinned to one mesh node's address."""

    def __init__(self, user, node, **kw):
        super().__init__(user, node.c2s_port, **kw)
        self.node_address = node.address

    async def get_dns_records(self, domain, port=None):
        return [(DOMAIN, self.node_address, self.port)]

    async def start(self):
        self.connect((self.node_address, self.port), use_ssl=False, force_starttls=True)
        await self.next("session_start", timeout=20)
        await asyncio.sleep(0.2)
        return self


class SlixmppAcrossClustersTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.mesh = Mesh(clusters=2, nodes_per_cluster=2)
        for name, home in (("ann", "n11"), ("ben", "n22"), ("cat", "n12"), ("dan", "n21")):
            cls.mesh.add_user(name, home, password=PASSWORD)
        cls.mesh.start()

    @classmethod
    def tearDownClass(cls):
        cls.mesh.__exit__(None, None, None)

    def client(self, user, **kw):
        return MeshClient(user, self.mesh.by_id[self.mesh.homes[user]], **kw)

    def test_chat_across_clusters(self):
        async def go():
            ann = await self.client("ann").start()
            ben = await self.client("ben").start()
            try:
                ann.send_message(mto=f"ben@{DOMAIN}", mbody="hello from cluster 1", mtype="chat")
                m = await ben.next("message", pred=body_is("hello from cluster 1"))
                self.assertEqual(m["from"].bare, f"ann@{DOMAIN}")
                ben.send_message(mto=m["from"], mbody="hello back", mtype="chat")
                await ann.next("message", pred=body_is("hello back"))
            finally:
                await ann.stop()
                await ben.stop()
        run(go())

    def test_subscription_and_presence_across_clusters(self):
        async def go():
            cat = await self.client("cat").start()
            dan = await self.client("dan").start()
            try:
                cat.send_presence_subscription(pto=f"dan@{DOMAIN}")
                req = await dan.next("presence_subscribe")
                self.assertEqual(req["from"].bare, f"cat@{DOMAIN}")
                dan.send_presence(pto=f"cat@{DOMAIN}", ptype="subscribed")
                await cat.next("presence_subscribed")
                # dan's presence reaches cat across the mesh, then a status change.
                await cat.next("presence_available", pred=lambda p: p["from"].bare == f"dan@{DOMAIN}")
                dan.send_presence(pshow="away", pstatus="in a meeting")
                p = await cat.next("changed_status",
                                   pred=lambda p: p["from"].bare == f"dan@{DOMAIN}" and p["show"] == "away")
                self.assertEqual(p["status"], "in a meeting")
                self.assertIn(f"dan@{DOMAIN}", cat.client_roster)
                self.assertEqual(cat.client_roster[f"dan@{DOMAIN}"]["subscription"], "to")
            finally:
                await cat.stop()
                await dan.stop()
        run(go())


if __name__ == "__main__":
    unittest.main()
