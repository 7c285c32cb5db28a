"""Interop: real slixmpp clients (Debian python3-slixmpp) against xmeshd.

Run with Debian's interpreter: /usr/bin/python3 -m unittest -v test_slixmpp
(from tests/interop; XMESHD / XMESHCTL name the binaries).

One xmeshd per test class; every test uses its own users and is bounded by a timeout.
"""
import asyncio
import logging
import os
import ssl
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
from harness import DOMAIN, Server  # noqa: E402

import slixmpp  # noqa: E402

PASSWORD = "interop-pass"
TEST_TIMEOUT = 60
EV_TIMEOUT = 10
NS_DELAY = "urn:xmpp:delay"

logging.basicConfig(level=os.environ.get("XMESH_INTEROP_LOG", "CRITICAL"))


class Client(slixmpp.ClientXMPP):
    """A slixmpp client pinned to 127.0.0.1:<port>, STARTTLS, cert not verified."""

    def __init__(self, user, port, mech=None, sm=False, resource=None, presence=True):
        jid = f"{user}@{DOMAIN}" + (f"/{resource}" if resource else "")
        super().__init__(jid, PASSWORD, sasl_mech=mech)
        self.port = port
        self.ssl_context.check_hostname = False
        self.ssl_context.verify_mode = ssl.CERT_NONE
        self.ssl_context.minimum_version = ssl.TLSVersion.TLSv1_2
        self.register_plugin("xep_0030")
        self.register_plugin("xep_0199", {"keepalive": False})
        if sm:
            self.register_plugin("xep_0198", {"window": 5})
        # None: leave subscription requests to the test (False would auto-reject them).
        self.roster.auto_authorize = None
        self.roster.auto_subscribe = False
        self.initial_presence = presence
        self.queues = {}
        self.all_messages = []  # every body received, in order (next() skips non-matches)
        for ev in ("session_start", "session_resumed", "sm_enabled", "sm_failed", "message",
                   "presence_available", "presence_unavailable", "changed_status",
                   "presence_subscribe", "presence_subscribed", "roster_update", "disconnected",
                   "failed_auth", "stream_error", "connection_failed"):
            self.watch(ev)
        self.add_event_handler("session_start", self._on_start)

    # Never resolve 'localhost' (it may give ::1 or the default port): always our server.
    async def get_dns_records(self, domain, port=None):
        return [(DOMAIN, "127.0.0.1", self.port)]

    def watch(self, ev):
        q = self.queues.setdefault(ev, asyncio.Queue())
        self.add_event_handler(ev, lambda data, q=q: q.put_nowait(data))
        if ev == "message":
            self.add_event_handler(ev, lambda m: self.all_messages.append(str(m["body"])))

    async def next(self, ev, timeout=EV_TIMEOUT, pred=lambda d: True):
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{self.boundjid}: no '{ev}' event within {timeout}s")
            try:
                data = await asyncio.wait_for(self.queues[ev].get(), left)
            except asyncio.TimeoutError:
                raise AssertionError(f"{self.boundjid}: no '{ev}' event within {timeout}s") from None
            if pred(data):
                return data

    async def _on_start(self, _):
        await self.get_roster(timeout=EV_TIMEOUT)
        if self.initial_presence:
            self.send_presence()

    async def start(self):
        self.connect(("127.0.0.1", self.port), use_ssl=False, force_starttls=True)
        await self.next("session_start", timeout=20)
        # _on_start runs concurrently; give it the roster round trip.
        await asyncio.sleep(0.2)
        return self

    async def stop(self):
        if self.transport:
            self.disconnect(wait=2)
            try:
                await asyncio.wait_for(self.disconnected, 5)
            except asyncio.TimeoutError:
                self.abort()


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, TEST_TIMEOUT))


def body_is(text):
    return lambda m: m["body"] == text


class SlixmppInteropTest(unittest.TestCase):
    USERS = ["login1", "login256", "ra", "rb", "pa", "pb", "ma", "mb", "oa", "ob",
             "ping", "disco", "sma", "smb", "acka"]

    @classmethod
    def setUpClass(cls):
        cls.srv = Server(limits={"idle_timeout_seconds": 120, "pre_auth_timeout_seconds": 20,
                                 "tls_handshake_timeout_seconds": 10,
                                 "sm_resume_timeout_seconds": 30}).start()
        try:
            for u in cls.USERS:
                cls.srv.add_user(u, PASSWORD)
        except Exception:
            cls.srv.stop()
            cls.srv.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        rc = cls.srv.stop()
        cls.srv.cleanup()
        assert rc in (0, None, -15), f"xmeshd exit code {rc}"

    def tearDown(self):
        self.assertTrue(self.srv.alive(), "xmeshd died:\n" + self.srv.log_tail())

    def port(self):
        return self.srv.c2s_port

    # -- login ----------------------------------------------------------------------------
    def _login(self, user, mech):
        async def go():
            c = await Client(user, self.port(), mech=mech).start()
            try:
                self.assertEqual(c.boundjid.bare, f"{user}@{DOMAIN}")
                self.assertTrue(c.boundjid.resource, "server did not assign a resource")
                self.assertIsInstance(c.transport.get_extra_info("ssl_object"), ssl.SSLObject,
                                      "stream is not TLS")
                version = c.transport.get_extra_info("ssl_object").version()
                self.assertIn(version, ("TLSv1.2", "TLSv1.3"))
            finally:
                await c.stop()
        run(go())

    def test_starttls_scram_sha1_login(self):
        self._login("login1", "SCRAM-SHA-1")

    def test_starttls_scram_sha256_login(self):
        self._login("login256", "SCRAM-SHA-256")

    # -- roster and subscriptions ---------------------------------------------------------
    def test_roster_add_and_subscription_handshake(self):
        async def go():
            a = await Client("ra", self.port()).start()
            b = await Client("rb", self.port()).start()
            try:
                abare, bbare = a.boundjid.bare, b.boundjid.bare
                # A adds B to its roster: a roster push to A.
                await a.update_roster(bbare, name="Bob", groups=["Friends"], timeout=EV_TIMEOUT)
                push = await a.next("roster_update", pred=lambda iq: iq["type"] == "set")
                self.assertIn(bbare, [str(j) for j in push["roster"]["items"]])
                # A subscribes to B; B approves and subscribes back; A approves.
                a.send_presence(pto=bbare, ptype="subscribe")
                sub = await b.next("presence_subscribe")
                self.assertEqual(sub["from"].bare, abare)
                b.send_presence(pto=abare, ptype="subscribed")
                b.send_presence(pto=abare, ptype="subscribe")
                await a.next("presence_subscribed", pred=lambda p: p["from"].bare == bbare)
                sub = await a.next("presence_subscribe")
                self.assertEqual(sub["from"].bare, bbare)
                a.send_presence(pto=bbare, ptype="subscribed")
                await b.next("presence_subscribed", pred=lambda p: p["from"].bare == abare)
                # Roster pushes reached B as well (B's roster gained A).
                await b.next("roster_update", pred=lambda iq: iq["type"] == "set")
                await asyncio.sleep(0.5)
                for me, other in ((a, bbare), (b, abare)):
                    roster = await me.get_roster(timeout=EV_TIMEOUT)
                    items = roster["roster"]["items"]
                    keys = {str(k): v for k, v in items.items()}
                    self.assertIn(other, keys, f"{me.boundjid.bare} roster: {keys}")
                    self.assertEqual(keys[other]["subscription"], "both", f"{me.boundjid.bare}: {keys}")
                    self.assertFalse(keys[other]["ask"], "pending ask left over")
                self.assertEqual(a.client_roster[bbare]["name"], "Bob")
            finally:
                await a.stop()
                await b.stop()
        run(go())

    async def _subscribed_pair(self, ua, ub):
        a = await Client(ua, self.port(), resource="res-a").start()
        b = await Client(ub, self.port(), resource="res-b").start()
        abare, bbare = a.boundjid.bare, b.boundjid.bare
        a.send_presence(pto=bbare, ptype="subscribe")
        await b.next("presence_subscribe")
        b.send_presence(pto=abare, ptype="subscribed")
        b.send_presence(pto=abare, ptype="subscribe")
        await a.next("presence_subscribe")
        a.send_presence(pto=bbare, ptype="subscribed")
        await a.next("presence_subscribed")
        await b.next("presence_subscribed")
        return a, b

    def test_presence_broadcast_and_unavailable_on_disconnect(self):
        async def go():
            a, b = await self._subscribed_pair("pa", "pb")
            try:
                afull = str(a.boundjid)
                a.send_presence(pshow="dnd", pstatus="in a meeting")
                p = await b.next("changed_status",
                                 pred=lambda p: str(p["from"]) == afull and p["status"] == "in a meeting")
                self.assertEqual(p["show"], "dnd")
                # A goes away by closing its stream: B is told A is unavailable.
                await a.stop()
                p = await b.next("presence_unavailable", pred=lambda p: p["from"].bare == a.boundjid.bare)
                self.assertEqual(str(p["from"]), afull)
            finally:
                await a.stop()
                await b.stop()
        run(go())

    # -- messages -------------------------------------------------------------------------
    def test_messages_to_bare_and_full_jid(self):
        async def go():
            a = await Client("ma", self.port(), resource="phone").start()
            b = await Client("mb", self.port(), resource="desk").start()
            try:
                a.send_message(mto=b.boundjid.bare, mbody="to bare", mtype="chat")
                m = await b.next("message", pred=body_is("to bare"))
                self.assertEqual(str(m["from"]), str(a.boundjid), "server must stamp the full from")
                self.assertEqual(m["type"], "chat")
                a.send_message(mto=str(b.boundjid), mbody="to full", mtype="chat")
                m = await b.next("message", pred=body_is("to full"))
                self.assertEqual(str(m["to"]), str(b.boundjid))
                b.send_message(mto=str(a.boundjid), mbody="reply", mtype="chat")
                m = await a.next("message", pred=body_is("reply"))
                self.assertEqual(str(m["from"]), str(b.boundjid))
            finally:
                await a.stop()
                await b.stop()
        run(go())

    def test_offline_delivery_with_delay_stamp(self):
        async def go():
            before = self.srv.metrics().get("xmesh_offline_stored_total", 0)
            a = await Client("oa", self.port()).start()
            try:
                a.send_message(mto=f"ob@{DOMAIN}", mbody="while you were out", mtype="chat")
                deadline = time.monotonic() + EV_TIMEOUT
                while self.srv.metrics().get("xmesh_offline_stored_total", 0) < before + 1:
                    self.assertLess(time.monotonic(), deadline, "message was not stored offline")
                    await asyncio.sleep(0.1)
                b = await Client("ob", self.port()).start()
                try:
                    m = await b.next("message", pred=body_is("while you were out"))
                    self.assertEqual(m["from"].bare, a.boundjid.bare)
                    delay = m.xml.find(f"{{{NS_DELAY}}}delay")
                    self.assertIsNotNone(delay, f"no urn:xmpp:delay stamp: {m}")
                    self.assertRegex(delay.get("stamp", ""), r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
                finally:
                    await b.stop()
                # Delivered once: a second login does not get it again.
                await asyncio.sleep(0.5)
                b2 = await Client("ob", self.port()).start()
                try:
                    with self.assertRaises(AssertionError):
                        await b2.next("message", timeout=1.5, pred=body_is("while you were out"))
                finally:
                    await b2.stop()
            finally:
                await a.stop()
        run(go())

    # -- server features ------------------------------------------------------------------
    def test_ping_server(self):
        async def go():
            c = await Client("ping", self.port()).start()
            try:
                rtt = await c.plugin["xep_0199"].ping(jid=DOMAIN, timeout=EV_TIMEOUT)
                self.assertLess(rtt, 5)
            finally:
                await c.stop()
        run(go())

    def test_disco_info_lists_ping(self):
        async def go():
            c = await Client("disco", self.port()).start()
            try:
                info = await c.plugin["xep_0030"].get_info(jid=DOMAIN, timeout=EV_TIMEOUT)
                features = info["disco_info"]["features"]
                self.assertIn("urn:xmpp:ping", features)
                self.assertIn("http://jabber.org/protocol/disco#info", features)
                identities = info["disco_info"]["identities"]
                self.assertTrue(any(i[0] == "server" for i in identities), identities)
            finally:
                await c.stop()
        run(go())

    # -- XEP-0198 -------------------------------------------------------------------------
    def test_sm_ack_counts(self):
        async def go():
            c = Client("acka", self.port(), sm=True)
            c.connect(("127.0.0.1", self.port()), use_ssl=False, force_starttls=True)
            enabled = await c.next("sm_enabled", timeout=20)
            self.assertIn(enabled["resume"], (True, "true", "1"))
            await c.next("session_start")
            try:
                sm = c.plugin["xep_0198"]
                for i in range(12):
                    c.send_message(mto=str(c.boundjid), mbody=f"self {i}", mtype="chat")
                for i in range(12):
                    await c.next("message", pred=body_is(f"self {i}"))
                sm.request_ack()
                deadline = time.monotonic() + EV_TIMEOUT
                while sm.last_ack != sm.seq:
                    self.assertLess(time.monotonic(), deadline,
                                    f"server acked h={sm.last_ack}, client sent {sm.seq}")
                    await asyncio.sleep(0.05)
                self.assertGreaterEqual(sm.seq, 12)
                self.assertEqual(len(sm.unacked_queue), 0)
                # The stream survived the server's <r/> requests and our <a/> answers.
                rtt = await c.plugin["xep_0199"].ping(jid=DOMAIN, timeout=EV_TIMEOUT)
                self.assertLess(rtt, 5)
            finally:
                await c.stop()
        run(go())

    def test_sm_resumption_after_connection_loss(self):
        async def go():
            a = await Client("sma", self.port()).start()
            b = Client("smb", self.port(), sm=True, resource="mobile")
            b.connect(("127.0.0.1", self.port()), use_ssl=False, force_starttls=True)
            await b.next("sm_enabled", timeout=20)
            await b.next("session_start")
            await asyncio.sleep(0.3)
            try:
                bfull = str(b.boundjid)
                for i in range(3):
                    a.send_message(mto=bfull, mbody=f"before {i}", mtype="chat")
                for i in range(3):
                    await b.next("message", pred=body_is(f"before {i}"))
                sm = b.plugin["xep_0198"]
                sm.request_ack()
                deadline = time.monotonic() + EV_TIMEOUT
                while sm.last_ack != sm.seq:
                    self.assertLess(time.monotonic(), deadline, "acks did not catch up")
                    await asyncio.sleep(0.05)
                before_resumed = self.srv.metrics().get("xmesh_sm_resumed_total", 0)

                # Kill the TCP connection abruptly: no </stream:stream>, no TLS close_notify.
                b.transport.abort()
                await b.next("disconnected")
                await asyncio.sleep(0.5)
                a.send_message(mto=bfull, mbody="while disconnected", mtype="chat")
                await asyncio.sleep(0.5)

                b.connect(("127.0.0.1", self.port()), use_ssl=False, force_starttls=True)
                await b.next("session_resumed", timeout=20)
                self.assertEqual(str(b.boundjid), bfull)
                m = await b.next("message", pred=body_is("while disconnected"))
                self.assertEqual(m["from"].bare, a.boundjid.bare)
                # Nothing acknowledged before the cut is delivered again.
                await asyncio.sleep(1.0)
                for i in range(3):
                    self.assertEqual(b.all_messages.count(f"before {i}"), 1,
                                     f"acked message replayed after resumption: {b.all_messages}")
                self.assertEqual(b.all_messages.count("while disconnected"), 1, b.all_messages)
                self.assertEqual(self.srv.metrics().get("xmesh_sm_resumed_total", 0), before_resumed + 1)
                # The resumed stream is live in both directions.
                b.send_message(mto=str(a.boundjid), mbody="back again", mtype="chat")
                await a.next("message", pred=body_is("back again"))
            finally:
                await a.stop()
                await b.stop()
        run(go())


if __name__ == "__main__":
    unittest.main()
