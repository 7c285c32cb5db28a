"""SPEC §9 bad input against one xmeshd node: one named test per bad input.

Each test asserts the exact RFC 6120 stream error (or SASL failure / stanza error) the
server sends, that the matching xmesh_errors_total{reason=...} counter moved, and that
another session, logged in before the attack, still works afterwards (it sends itself a
message and receives it).

Per-address SASL back-off keys on the peer IP, so tests that fail authentication connect
from their own 127.0.0.x source address; the watcher session uses 127.0.0.1.

Run: /usr/bin/python3 -m unittest -v test_bad_input   (from tests/e2e; XMESHD/XMESHCTL)
"""
import os
import signal
import socket
import ssl
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (NS_SASL, NS_TLS, RawClient, ReadTimeout, Server,  # noqa: E402
                     stanza_error, stream_error)

PASSWORD = "s3cret-pass"
MiB = 1024 * 1024


class Watcher:
    """The already logged-in session that must survive every attack.

    A keepalive thread sends whitespace every second so the idle timeout (3 s) never
    hits it; socket use is serialized by a lock."""

    def __init__(self, port):
        self.client = RawClient(port, source="127.0.0.1")
        self.jid = self.client.login("watcher", PASSWORD, resource="watch")
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.seq = 0
        self.thread = threading.Thread(target=self._keepalive, daemon=True)
        self.thread.start()

    def _keepalive(self):
        while not self.stop.wait(1.0):
            with self.lock:
                try:
                    self.client.send(b" ")
                except OSError:
                    return

    def check(self, timeout=5.0):
        """Sends itself a message and waits for it. Returns the round-trip time."""
        with self.lock:
            self.seq += 1
            mid = f"hc-{self.seq}"
            t0 = time.monotonic()
            self.client.send(f"<message to='{self.jid}' id='{mid}' type='chat'>"
                             f"<body>health {self.seq}</body></message>")
            self.client.read_until(rf"<message\b[^>]*id=['\"]{mid}['\"].*?</message>", timeout)
            return time.monotonic() - t0

    def close(self):
        self.stop.set()
        self.thread.join(timeout=3)
        self.client.close()


class BadInputTest(unittest.TestCase):
    srv: Server
    watcher: Watcher

    @classmethod
    def setUpClass(cls):
        cls.srv = Server().start()
        try:
            for u in ("watcher", "attacker", "victim"):
                cls.srv.add_user(u, PASSWORD)
            cls.watcher = Watcher(cls.srv.c2s_port)
        except Exception:
            cls.srv.stop()
            print(cls.srv.log_tail(), file=sys.stderr)
            cls.srv.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            cls.watcher.close()
        finally:
            rc = cls.srv.stop()
            cls.srv.cleanup()
        assert rc in (0, None, -15), f"xmeshd exit code {rc}"

    def setUp(self):
        self.clients = []
        self.before = self.srv.metrics()

    def tearDown(self):
        for c in self.clients:
            c.close()
        if not self.srv.alive():
            print(self.srv.log_tail(), file=sys.stderr)

    # -- helpers --------------------------------------------------------------------------
    @property
    def lim(self):
        return self.srv.limits

    def client(self, source="127.0.0.1", timeout=5.0) -> RawClient:
        c = RawClient(self.srv.c2s_port, source=source, timeout=timeout)
        self.clients.append(c)
        return c

    def bound_client(self, user="attacker", resource=None) -> RawClient:
        c = self.client()
        c.login(user, PASSWORD, resource=resource)
        return c

    def assert_error_delta(self, reason, expected=1, timeout=3.0):
        """xmesh_errors_total{reason} moved by exactly `expected` (None: by at least 1)."""
        b = self.srv.error_count(reason, self.before)
        deadline = time.monotonic() + timeout
        while True:
            now = self.srv.error_count(reason)
            done = (now - b >= 1) if expected is None else (now - b == expected)
            if done or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        if expected is None:
            self.assertGreaterEqual(now - b, 1, f'xmesh_errors_total{{reason="{reason}"}} did not move')
        else:
            self.assertEqual(now - b, expected, f'xmesh_errors_total{{reason="{reason}"}} delta')

    def assert_healthy(self):
        self.assertTrue(self.srv.alive(), "xmeshd died:\n" + self.srv.log_tail())
        rtt = self.watcher.check()
        self.assertLess(rtt, 2.0)

    def assert_stream_error(self, c: RawClient, condition: str, timeout=5.0):
        got = c.expect_stream_error(timeout)
        self.assertEqual(got, condition, c.text[-1500:])
        self.assertIn("</stream:stream>", c.text, "stream not closed after the stream error")
        self.assertTrue(c.wait_closed(3.0), "connection not closed after the stream error")

    def plain_stream(self, **kw) -> RawClient:
        c = self.client(**kw)
        c.stream_open()
        return c

    # -- malformed and restricted XML -----------------------------------------------------
    def test_malformed_xml_not_well_formed(self):
        c = self.bound_client()
        c.send(f"<message to='{c.jid}'><body>mismatched</message>")
        self.assert_stream_error(c, "not-well-formed")
        self.assert_healthy()
        self.assert_error_delta("not-well-formed")

    def test_doctype_restricted_xml(self):
        c = self.client()
        c.send("<?xml version='1.0'?><!DOCTYPE stream:stream SYSTEM 'file:///etc/passwd'>"
               + c.stream_header(xml_decl=False))
        self.assert_stream_error(c, "restricted-xml")
        self.assertNotIn("<stream:features", c.text)
        self.assert_healthy()
        self.assert_error_delta("restricted-xml")

    def test_entity_declaration_restricted_xml(self):
        c = self.client()
        c.send("<?xml version='1.0'?><!DOCTYPE stream:stream [<!ENTITY xxe SYSTEM 'file:///etc/passwd'>]>"
               + c.stream_header(xml_decl=False))
        self.assert_stream_error(c, "restricted-xml")
        self.assertNotIn("root:", c.text)
        self.assert_healthy()
        self.assert_error_delta("restricted-xml")

    def test_billion_laughs_restricted_xml(self):
        c = self.client()
        ents = "<!ENTITY lol0 'lol'>" + "".join(
            f"<!ENTITY lol{i} '{('&lol%d;' % (i - 1)) * 10}'>" for i in range(1, 10))
        c.send(f"<?xml version='1.0'?><!DOCTYPE stream:stream [{ents}]>"
               + c.stream_header(xml_decl=False) + "<message><body>&lol9;</body></message>")
        self.assert_stream_error(c, "restricted-xml")
        self.assert_healthy()
        self.assert_error_delta("restricted-xml")

    def test_processing_instruction_restricted_xml(self):
        c = self.bound_client()
        c.send(f"<message to='{c.jid}'><?evil payload?><body>x</body></message>")
        self.assert_stream_error(c, "restricted-xml")
        self.assert_healthy()
        self.assert_error_delta("restricted-xml")

    def test_comment_restricted_xml(self):
        c = self.bound_client()
        c.send(f"<message to='{c.jid}'><!-- a comment --><body>x</body></message>")
        self.assert_stream_error(c, "restricted-xml")
        self.assert_healthy()
        self.assert_error_delta("restricted-xml")

    def test_invalid_utf8_not_well_formed(self):
        c = self.bound_client()
        c.send(f"<message to='{c.jid}'><body>".encode() + b"\xff\xfe\xc3\x28" + b"</body></message>")
        self.assert_stream_error(c, "not-well-formed")
        self.assert_healthy()
        self.assert_error_delta("not-well-formed")

    # -- size and depth -------------------------------------------------------------------
    def _flood_one_stanza(self, c: RawClient, head: bytes, total: int, chunk: int = 32 * 1024):
        """Sends `head` then filler up to `total` bytes in chunks, watching for input after
        every chunk. Returns the bytes sent when the server answered or closed."""
        c.send(head)
        sent = len(head)
        filler = b"A" * chunk
        while sent < total:
            try:
                c.send(filler)
            except (OSError, ssl.SSLError):
                c.closed = True
                break
            sent += len(filler)
            c._recv_once(0.01)
            if "<stream:error>" in c.pending_text() or c.closed:
                break
        return sent

    def test_oversized_stanza_pre_auth_policy_violation(self):
        c = self.client()
        c.tls_preauth()
        limit = self.lim["max_stanza_bytes_pre_auth"]
        sent = self._flood_one_stanza(
            c, f"<auth xmlns='{NS_SASL}' mechanism='PLAIN'>".encode(), 10 * MiB)
        self.assertLess(sent, 2 * MiB, "server kept reading a 10 MiB pre-auth stanza")
        self.assertLess(limit, 2 * MiB)
        self.assert_stream_error(c, "policy-violation")
        self.assert_healthy()
        self.assert_error_delta("policy-violation")

    def test_oversized_stanza_post_auth_policy_violation(self):
        c = self.bound_client()
        limit = self.lim["max_stanza_bytes"]
        # Below the limit first: a 30 KB stanza is fine after authentication.
        c.send(f"<message to='{c.jid}' id='big-ok'><body>{'b' * 30000}</body></message>")
        c.read_until(r"<message\b[^>]*id=['\"]big-ok['\"].*?</message>")
        sent = self._flood_one_stanza(c, f"<message to='{c.jid}'><body>".encode(), 10 * MiB)
        self.assertLess(sent, 2 * MiB, "server kept reading a 10 MiB stanza")
        self.assertLess(limit, 2 * MiB)
        self.assert_stream_error(c, "policy-violation")
        self.assert_healthy()
        self.assert_error_delta("policy-violation")

    def test_deep_nesting_policy_violation(self):
        c = self.bound_client()
        depth = 200
        c.send(f"<message to='{c.jid}'>" + "<a>" * depth + "x" + "</a>" * depth + "</message>")
        self.assert_stream_error(c, "policy-violation")
        self.assert_healthy()
        self.assert_error_delta("policy-violation")

    # -- stream header --------------------------------------------------------------------
    def test_wrong_content_namespace_invalid_namespace(self):
        c = self.client()
        c.send(c.stream_header(ns="jabber:server"))
        self.assert_stream_error(c, "invalid-namespace")
        self.assertNotIn("<stream:features", c.text)
        self.assert_healthy()
        self.assert_error_delta("invalid-namespace")

    def test_wrong_stream_namespace_invalid_namespace(self):
        c = self.client()
        c.send(c.stream_header(stream_ns="http://example.com/not-streams"))
        self.assert_stream_error(c, "invalid-namespace")
        self.assertNotIn("<stream:features", c.text)
        self.assert_healthy()
        self.assert_error_delta("invalid-namespace")

    def test_unknown_host_host_unknown(self):
        c = self.client()
        c.send(c.stream_header(to="example.org"))
        self.assert_stream_error(c, "host-unknown")
        self.assertNotIn("<stream:features", c.text)
        self.assert_healthy()
        self.assert_error_delta("host-unknown")

    # -- stanzas from a bound session -----------------------------------------------------
    def test_bad_jid_in_message_to_jid_malformed(self):
        c = self.bound_client()
        c.send("<message to='@localhost' id='bad1' type='chat'><body>x</body></message>")
        m = c.read_until(r"<message\b[^>]*id=['\"]bad1['\"].*?</message>")
        self.assertRegex(m.group(0), r"type=['\"]error['\"]")
        self.assertEqual(stanza_error(m.group(0)), "jid-malformed", m.group(0))
        # A stanza error, not a stream error: the session goes on.
        c.send(f"<message to='{c.jid}' id='after-bad1'><body>y</body></message>")
        c.read_until(r"<message\b[^>]*id=['\"]after-bad1['\"]")
        self.assertIsNone(stream_error(c.text))
        self.assert_healthy()
        self.assert_error_delta("jid-malformed")

    def test_spoofed_from_invalid_from(self):
        c = self.bound_client()
        self.watcher.check()
        c.send(f"<message from='{self.watcher.jid}' to='{self.watcher.jid}' id='spoof1' type='chat'>"
               "<body>I am the watcher</body></message>")
        self.assert_stream_error(c, "invalid-from")
        self.assert_healthy()
        self.assertNotIn("spoof1", self.watcher.client.text, "spoofed message was delivered")
        self.assert_error_delta("invalid-from")

    def test_message_to_unknown_user_service_unavailable(self):
        c = self.bound_client()
        c.send("<message to='nosuchuser@localhost' id='nu1' type='chat'><body>x</body></message>")
        m = c.read_until(r"<message\b[^>]*id=['\"]nu1['\"].*?</message>")
        self.assertRegex(m.group(0), r"type=['\"]error['\"]")
        self.assertRegex(m.group(0), r"from=['\"]nosuchuser@localhost['\"]")
        self.assertEqual(stanza_error(m.group(0)), "service-unavailable", m.group(0))
        self.assert_healthy()
        self.assert_error_delta("service-unavailable")

    def test_unknown_iq_namespace_service_unavailable(self):
        c = self.bound_client()
        c.send("<iq type='get' id='uq1' to='localhost'><query xmlns='urn:example:no-such-ns'/></iq>")
        m = c.read_until(r"<iq\b[^>]*id=['\"]uq1['\"].*?</iq>")
        self.assertRegex(m.group(0), r"type=['\"]error['\"]")
        self.assertEqual(stanza_error(m.group(0)), "service-unavailable", m.group(0))
        c.send("<iq type='set' id='uq2'><query xmlns='urn:example:no-such-ns'/></iq>")
        m = c.read_until(r"<iq\b[^>]*id=['\"]uq2['\"].*?</iq>")
        self.assertEqual(stanza_error(m.group(0)), "service-unavailable", m.group(0))
        self.assert_healthy()
        self.assert_error_delta("service-unavailable", expected=2)

    # -- before bind / before TLS ---------------------------------------------------------
    def test_message_before_bind_refused(self):
        c = self.client()
        c.login("attacker", PASSWORD, bind=False)
        c.send(f"<message to='{self.watcher.jid}' id='prebind1' type='chat'><body>x</body></message>")
        self.assert_stream_error(c, "not-authorized")
        self.assert_healthy()
        self.assertNotIn("prebind1", self.watcher.client.text, "message sent before bind was routed")
        self.assert_error_delta("internal-server-error", expected=0)
        self.assert_error_delta("not-authorized")

    def test_iq_before_bind_refused(self):
        c = self.client()
        c.login("attacker", PASSWORD, bind=False)
        c.send("<iq type='get' id='prebind2'><ping xmlns='urn:xmpp:ping'/></iq>")
        m = c.read_until(r"<iq\b[^>]*id=['\"]prebind2['\"].*?</iq>")
        self.assertEqual(stanza_error(m.group(0)), "not-authorized", m.group(0))
        self.assert_healthy()

    def test_sasl_before_starttls_policy_violation(self):
        c = self.plain_stream()
        c.send(f"<auth xmlns='{NS_SASL}' mechanism='PLAIN'>AGF0dGFja2VyAHMzY3JldC1wYXNz</auth>")
        self.assert_stream_error(c, "policy-violation")
        self.assertNotIn("<success", c.text)
        self.assert_healthy()
        self.assert_error_delta("policy-violation")
        self.assert_error_delta("tls-required")

    def test_plain_never_offered_before_tls(self):
        c = self.client()
        features = c.stream_open()
        self.assertIn(f"<starttls xmlns='{NS_TLS}'><required/></starttls>", features)
        self.assertNotIn("PLAIN", features)
        self.assertNotIn("<mechanisms", features)  # TLS is required: nothing but STARTTLS
        c.starttls()
        features = c.stream_open()
        self.assertIn("<mechanism>PLAIN</mechanism>", features)
        self.assertIn("<mechanism>SCRAM-SHA-256</mechanism>", features)
        self.assertIn("<mechanism>SCRAM-SHA-1</mechanism>", features)
        self.assertNotIn("starttls", features)
        self.assert_healthy()

    # -- SASL abuse -----------------------------------------------------------------------
    def test_wrong_password_not_authorized(self):
        for i, mech in enumerate(("SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN")):
            with self.subTest(mech=mech):
                c = self.client(source=f"127.0.0.{30 + i}")
                c.tls_preauth()
                if mech == "PLAIN":
                    r = c.plain_auth("attacker", "wrong-password")
                else:
                    r = c.scram_auth("attacker", "wrong-password", mech)
                self.assertEqual(r, "not-authorized")
                # The stream goes on: the right password works on it.
                self.assertEqual(c.scram_auth("attacker", PASSWORD, "SCRAM-SHA-1"), "success")
        self.assert_healthy()
        self.assert_error_delta("not-authorized", expected=3)

    def test_unknown_user_not_authorized(self):
        c = self.client(source="127.0.0.34")
        c.tls_preauth()
        self.assertEqual(c.scram_auth("nobody-here", "whatever"), "not-authorized")
        self.assert_healthy()

    def test_too_many_sasl_attempts_policy_violation(self):
        c = self.client(source="127.0.0.40")
        c.tls_preauth()
        max_attempts = 5
        results = []
        for _ in range(max_attempts):
            results.append(c.plain_auth("attacker", "wrong-password"))
            if results[-1].startswith("stream:"):
                break
        self.assertEqual(len(results), max_attempts, results)
        self.assertTrue(all(r in ("not-authorized", "temporary-auth-failure") for r in results), results)
        # After the 5th failure the server ends the stream: a 6th attempt is never heard.
        self.assert_stream_error(c, "policy-violation")
        self.assert_healthy()
        self.assert_error_delta("sasl-too-many-attempts")
        self.assert_error_delta("policy-violation")

    def test_auth_backoff_per_address_temporary_auth_failure(self):
        src = "127.0.0.50"
        n = self.lim["auth_failures_before_backoff"]
        window = self.lim["auth_backoff_seconds"]
        c = self.client(source=src)
        c.tls_preauth()
        t_first = time.monotonic()
        for _ in range(n):
            self.assertEqual(c.plain_auth("victim", "guess"), "not-authorized")
        # The address is now throttled: even the right password is refused ...
        self.assertEqual(c.plain_auth("victim", PASSWORD), "temporary-auth-failure")
        c.close()
        # ... on a new stream too, and with SCRAM,
        c2 = self.client(source=src)
        c2.tls_preauth()
        self.assertEqual(c2.scram_auth("victim", PASSWORD), "temporary-auth-failure")
        c2.close()
        # ... while another address logs the same user in fine.
        ok = self.client(source="127.0.0.51")
        ok.login("victim", PASSWORD)
        self.assert_healthy()
        self.assert_error_delta("auth-backoff", expected=2)
        # Once the window has passed the address may authenticate again.
        time.sleep(max(0.0, t_first + window + 1.2 - time.monotonic()))
        c3 = self.client(source=src)
        c3.tls_preauth()
        self.assertEqual(c3.plain_auth("victim", PASSWORD), "success")
        self.assert_healthy()

    # -- STARTTLS injection ---------------------------------------------------------------
    def test_plaintext_after_proceed_closes_connection(self):
        c = self.plain_stream()
        c.send(f"<starttls xmlns='{NS_TLS}'/>")
        c.read_until(r"<proceed\b[^>]*/>")
        t0 = time.monotonic()
        c.send(c.stream_header() + f"<auth xmlns='{NS_SASL}' mechanism='PLAIN'>"
               "AGF0dGFja2VyAHMzY3JldC1wYXNz</auth>")
        self.assertTrue(c.wait_closed(5.0), "connection stayed open after plaintext injection")
        self.assertLess(time.monotonic() - t0, 1.5, "closed only by a timeout, not at once")
        after = c.pending_text()
        for marker in ("<stream:", "<success", "<failure", "<stream:features"):
            self.assertNotIn(marker, after, "XMPP processed after <proceed/>")
        self.assert_healthy()
        self.assert_error_delta("tls-failed")

    def test_plaintext_in_same_packet_as_starttls_discarded(self):
        c = self.plain_stream()
        # The classic STARTTLS command injection: the attacker's plaintext rides in the
        # same TCP segment as <starttls/> and must not be processed after the handshake.
        c.send(f"<starttls xmlns='{NS_TLS}'/>" + c.stream_header(xml_decl=False)
               + "<iq type='get' id='injected1'><ping xmlns='urn:xmpp:ping'/></iq>")
        c.read_until(r"<proceed\b[^>]*/>")
        self.assertNotIn("<stream:stream", c.pending_text())
        c.wrap_tls()
        features = c.stream_open()  # a fresh stream: the injected header was not kept
        self.assertIn("<mechanism>PLAIN</mechanism>", features)
        self.assertEqual(c.text.count("<stream:stream"), 1, c.text)
        c.plain_login("attacker", PASSWORD)
        c.bind()
        c.send("<iq type='get' id='ping-after'><ping xmlns='urn:xmpp:ping'/></iq>")
        c.read_until(r"<iq\b[^>]*id=['\"]ping-after['\"]")
        self.assertNotIn("injected1", c.text)
        self.assert_healthy()

    # -- timeouts -------------------------------------------------------------------------
    def test_tls_handshake_timeout(self):
        c = self.plain_stream()
        c.send(f"<starttls xmlns='{NS_TLS}'/>")
        c.read_until(r"<proceed\b[^>]*/>")
        t0 = time.monotonic()
        limit = self.lim["tls_handshake_timeout_seconds"]
        self.assertTrue(c.wait_closed(limit + 4), "a silent TLS handshake was never timed out")
        elapsed = time.monotonic() - t0
        self.assertGreaterEqual(elapsed, limit - 0.5, "closed before the handshake timeout")
        self.assert_healthy()
        self.assert_error_delta("connection-timeout", expected=None)

    def test_pre_auth_timeout_connection_timeout(self):
        c = self.client()
        t0 = time.monotonic()
        c.tls_preauth()
        limit = self.lim["pre_auth_timeout_seconds"]
        # Whitespace keepalives keep the idle timer quiet: only the auth deadline applies.
        deadline = t0 + limit + 4
        while time.monotonic() < deadline and "<stream:error>" not in c.pending_text() and not c.closed:
            try:
                c.send(b" ")
            except OSError:
                break
            c._recv_once(0.3)
        elapsed = time.monotonic() - t0
        self.assert_stream_error(c, "connection-timeout")
        self.assertGreaterEqual(elapsed, limit - 0.5)
        self.assert_healthy()
        self.assert_error_delta("connection-timeout", expected=None)

    def test_idle_timeout_connection_timeout(self):
        c = self.bound_client()
        c.send("<iq type='get' id='idle-ping'><ping xmlns='urn:xmpp:ping'/></iq>")
        c.read_until(r"<iq\b[^>]*id=['\"]idle-ping['\"]")
        t0 = time.monotonic()
        limit = self.lim["idle_timeout_seconds"]
        self.assert_stream_error(c, "connection-timeout", timeout=limit + 4)
        self.assertGreaterEqual(time.monotonic() - t0, limit - 0.5)
        self.assert_healthy()
        self.assert_error_delta("connection-timeout", expected=None)

    # -- floods ---------------------------------------------------------------------------
    def test_connection_flood(self):
        n = 300
        socks = []
        try:
            t0 = time.monotonic()
            for _ in range(n):
                socks.append(socket.create_connection(("127.0.0.1", self.srv.c2s_port), timeout=10))
            header = RawClient.stream_header().encode()
            for s in socks:
                s.sendall(header)
            # The server stays responsive for an existing session during the flood.
            self.assertLess(self.watcher.check(timeout=5.0), 2.0)
            got = 0
            for s in socks:
                s.settimeout(max(0.5, 15 - (time.monotonic() - t0)))
                buf = b""
                try:
                    while b"<stream:features" not in buf:
                        chunk = s.recv(65536)
                        if not chunk:
                            break
                        buf += chunk
                except OSError:
                    pass
                if b"<stream:stream" in buf and b"<stream:features" in buf:
                    got += 1
            self.assertEqual(got, n, f"only {got}/{n} flood connections got a stream header")
            m = self.srv.metrics()
            self.assertGreaterEqual(m.get("xmesh_connections_accepted_total", 0)
                                    - self.before.get("xmesh_connections_accepted_total", 0), n)
        finally:
            for s in socks:
                s.close()
        self.assert_healthy()


class TlsOptionalTest(unittest.TestCase):
    """tls.required = false: SCRAM may run in the clear, PLAIN never does."""

    @classmethod
    def setUpClass(cls):
        cls.srv = Server(tls={"required": False}).start()
        try:
            cls.srv.add_user("carol", PASSWORD)
        except Exception:
            cls.srv.stop()
            cls.srv.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        cls.srv.cleanup()

    def test_plain_not_offered_and_refused_in_the_clear(self):
        with RawClient(self.srv.c2s_port, source="127.0.0.60") as c:
            features = c.stream_open()
            self.assertIn("<starttls", features)
            self.assertIn("<mechanism>SCRAM-SHA-256</mechanism>", features)
            self.assertNotIn("PLAIN", features)
            self.assertEqual(c.plain_auth("carol", PASSWORD), "encryption-required")
            self.assertIsNone(stream_error(c.text))
            # SCRAM in the clear is allowed when TLS is optional.
            self.assertEqual(c.scram_auth("carol", PASSWORD), "success")
        with RawClient(self.srv.c2s_port) as c:
            c.tls_preauth()
            self.assertEqual(c.plain_auth("carol", PASSWORD), "success")


class ShutdownTest(unittest.TestCase):
    """SIGTERM: every client gets <system-shutdown/> before the connection closes."""

    def test_clients_are_told_the_server_shuts_down(self):
        with Server() as srv:
            srv.add_user("sd1", PASSWORD)
            srv.add_user("sd2", PASSWORD)
            bound = RawClient(srv.c2s_port)
            bound.login("sd1", PASSWORD)
            fresh = RawClient(srv.c2s_port)  # a stream still negotiating
            fresh.stream_open()
            srv.proc.send_signal(signal.SIGTERM)
            self.assertEqual(bound.expect_stream_error(timeout=10), "system-shutdown")
            self.assertEqual(fresh.expect_stream_error(timeout=10), "system-shutdown")
            self.assertTrue(bound.wait_closed(10))
            self.assertEqual(srv.proc.wait(timeout=10), 0)
            bound.close()
            fresh.close()


if __name__ == "__main__":
    unittest.main()
