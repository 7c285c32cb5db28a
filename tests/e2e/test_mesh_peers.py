"""The mesh's edges, end to end with real xmeshd processes:

- a WAN link of 80 ms RTT and 10 Mbit/s (a delaying, rate-limiting proxy of this
  harness between two nodes: `tc netem` is not available here) still delivers
  everything, in order;
- a peer that speaks for users it does not serve, or announces another node's users,
  is refused and logged, and the rest of its traffic still flows (plain mode, where the
  acceptor trusts the claimed node id, so this harness can be that peer);
- a node killed and restarted gets the mesh's directory again (its peers see a new
  incarnation) and routes as before.

Run: /usr/bin/python3 -m unittest -v test_mesh_peers
"""
import re
import socket
import threading
import time
import unittest

from harness import DOMAIN, free_port
from mesh_harness import Mesh
from relay import Relay, shut
from test_mesh import available, body_ids, seen


class DelayProxy(Relay):
    """TCP proxy adding `one_way_ms` of latency each way and capping each direction at
    `rate_bps` bits/s: a WAN in user space, between two nodes on loopback."""

    def __init__(self, listen: tuple, target: tuple, one_way_ms: float = 40.0,
                 rate_bps: float = 10e6):
        self.delay, self.rate = one_way_ms / 1000.0, rate_bps / 8.0
        self.bytes = 0
        super().__init__(listen, target)

    def pipe(self, src: socket.socket, dst: socket.socket, from_dialer: bool):
        # One thread per direction: read, hold each chunk until its delay has passed and
        # the rate cap allows it, then write. Order is kept.
        import collections
        queue = collections.deque()
        cond = threading.Condition()
        done = [False]

        def reader():
            while not self.stop.is_set():
                try:
                    data = src.recv(65536)
                except OSError:
                    data = b""
                with cond:
                    if not data:
                        done[0] = True
                        cond.notify()
                        return
                    queue.append((time.monotonic() + self.delay, data))
                    cond.notify()

        threading.Thread(target=reader, daemon=True).start()
        next_free = 0.0
        while True:
            with cond:
                while not queue and not done[0]:
                    cond.wait(0.2)
                    if self.stop.is_set():
                        return
                if not queue and done[0]:
                    break
                due, data = queue.popleft()
            start = max(due, next_free)
            now = time.monotonic()
            if start > now:
                time.sleep(start - now)
            next_free = max(start, time.monotonic()) + len(data) / self.rate
            try:
                dst.sendall(data)
                self.bytes += len(data)
            except OSError:
                break
        shut(src, dst)


class WanLinkTest(unittest.TestCase):
    def test_80ms_rtt_10mbit_link_delivers_everything_in_order(self):
        with Mesh(clusters=2, nodes_per_cluster=1) as mesh:
            n11, n21 = mesh.by_id["n11"], mesh.by_id["n21"]
            # n11 dials n21 (lower id): the topology sends it to the proxy, which forwards to
            # where n21 really listens.
            proxy_addr = ("127.0.1.99", free_port())
            real_port = free_port()
            mesh.write_topology(r2r_overrides={"n21": proxy_addr})
            n21.extra_args = ["--r2r-listen", f"{n21.address}:{real_port}"]
            proxy = DelayProxy(proxy_addr, (n21.address, real_port))
            try:
                mesh.add_user("wa", "n11")
                mesh.add_user("wb", "n21")
                mesh.start()
                a, b = mesh.login("wa"), mesh.login("wb")
                available(b)
                total = 2000
                t0 = time.monotonic()
                pad = "x" * 300  # ~0.8 MB over the link: the 10 Mbit/s cap shows
                for i in range(total):
                    a.send(f"<message to='wb@{DOMAIN}' type='chat'><body>wan-{i}</body>"
                           f"<thread>{pad}</thread></message>")
                got = []
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline and len(got) < total:
                    b.collect(0.2)
                    got = body_ids(b.pending_text(), "wan")
                elapsed = time.monotonic() - t0
                self.assertEqual(got, list(range(total)))
                # Through the proxy, and slower than the cap allows to be instant.
                self.assertGreater(proxy.bytes, total * 300)
                self.assertGreater(elapsed, 0.5)
                self.assertEqual(n11.link("n21")["state"], "established")
                print(f"\nWAN link: {total} messages in {elapsed:.2f}s over {proxy.bytes} proxied bytes")
                a.close()
                b.close()
            finally:
                proxy.close()


class FakePeer:
    """This harness speaking r2r in plain mode as node `node` of `cluster`."""

    def __init__(self, address: str, port: int, node: str, cluster: str, peer: str):
        self.sock = socket.create_connection((address, port), timeout=5)
        self.rx = b""
        self.sock.sendall((f"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' "
                           f"xmlns:m='urn:xmesh:r2r:0' from='{node}' to='{peer}' version='1.0'>"
                           f"<m:hello node='{node}' cluster='{cluster}' version='1' epoch='feedfacefeedface' h='0'/>"
                           ).encode())
        self.wait(r"<m:start\b[^>]*/>")
        self.sock.sendall(b"<m:start after='0'/>")

    def wait(self, pattern: str, timeout: float = 5.0):
        deadline = time.monotonic() + timeout
        while not re.search(pattern, self.rx.decode(errors="replace")):
            if time.monotonic() > deadline:
                raise AssertionError(f"{pattern!r} not seen from the node: {self.rx[-500:]!r}")
            self.sock.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            if not data:
                raise AssertionError(f"node closed the link: {self.rx[-500:]!r}")
            self.rx += data

    def send(self, xml: str):
        self.sock.sendall(xml.encode())

    def close(self):
        self.sock.close()


class PeerChecksTest(unittest.TestCase):
    def test_a_peer_speaking_for_users_it_does_not_serve_is_refused(self):
        with Mesh(clusters=2, nodes_per_cluster=1, secure=False) as mesh:
            mesh.add_user("pa", "n11")
            mesh.add_user("pb", "n21")
            mesh.start()
            n11, n21 = mesh.by_id["n11"], mesh.by_id["n21"]
            n11.stop()  # the harness takes n11's place on n21's listener
            pb = mesh.login("pb")
            available(pb)
            refused0 = n21.metrics().get("xmesh_mesh_refused_total", 0)
            peer = FakePeer(n21.address, n21.r2r_port, "n11", "c1", "n21")
            try:
                # From pb, a user n21 serves itself: refused, never delivered.
                peer.send(f"<message from='pb@{DOMAIN}/fake' to='pb@{DOMAIN}' type='chat'>"
                          f"<body>spoofed</body></message>")
                # Announcing users of another node: refused.
                peer.send("<m:dir op='add' home='n21'>mallory</m:dir>")
                # From n11's own user: delivered.
                peer.send(f"<message from='pa@{DOMAIN}/r' to='pb@{DOMAIN}' type='chat'>"
                          f"<body>legit</body></message>")
                seen(pb, r"<body>legit</body>")
                self.assertNotIn("spoofed", pb.text)
                deadline = time.monotonic() + 5
                while n21.metrics().get("xmesh_mesh_refused_total", 0) < refused0 + 2:
                    self.assertLess(time.monotonic(), deadline, "refusals not counted")
                    time.sleep(0.1)
                with open(n21.log_path, errors="replace") as f:
                    log = f.read()
                self.assertIn("from-not-served-by-peer", log)
                self.assertIn("dir-refused", log)
            finally:
                peer.close()
                pb.close()


class DirectoryRetryTest(unittest.TestCase):
    def test_a_message_for_a_user_not_announced_yet_waits_for_the_directory(self):
        with Mesh(clusters=2, nodes_per_cluster=1) as mesh:
            mesh.add_user("early", "n11")
            mesh.add_user("later", "n21")   # in cluster 2's store only
            n11, n21 = mesh.by_id["n11"], mesh.by_id["n21"]
            n11.start()                     # n21 is not up: n11 has never heard of "later"
            a = mesh.login("early")
            try:
                a.send(f"<message to='later@{DOMAIN}' type='chat' id='early1'>"
                       f"<body>before-sync</body></message>")
                time.sleep(1.5)
                n21.start()
                mesh.wait_mesh()
                b = mesh.login("later")
                try:
                    available(b)  # the message waited at n21 as an offline message
                    seen(b, r"<body>before-sync</body>")
                finally:
                    b.close()
                self.assertNotIn("service-unavailable", a.collect(0.5))
                self.assertGreater(n11.metrics()["xmesh_mesh_directory_retries_total"], 0)
            finally:
                a.close()


class NodeRestartTest(unittest.TestCase):
    def test_a_restarted_node_gets_the_directory_again_and_routes(self):
        with Mesh(clusters=2, nodes_per_cluster=1) as mesh:
            mesh.add_user("ra", "n11")
            mesh.add_user("rb", "n21")
            mesh.start()
            n11, n21 = mesh.by_id["n11"], mesh.by_id["n21"]
            n21.stop(sig=9)
            n21.start()
            mesh.wait_mesh()
            a, b = mesh.login("ra"), mesh.login("rb")
            try:
                available(a)
                available(b)
                b.send(f"<message to='ra@{DOMAIN}' type='chat'><body>after-restart</body></message>")
                seen(a, r"<body>after-restart</body>")
                a.send(f"<message to='rb@{DOMAIN}' type='chat'><body>back</body></message>")
                seen(b, r"<body>back</body>")
                self.assertGreaterEqual(n21.status()["mesh"]["directory_users"], 2)
                m = n11.metrics()
                self.assertGreaterEqual(m['xmesh_r2r_peer_restarts_total{peer="n21",cluster="c2"}'], 1)
            finally:
                a.close()
                b.close()


if __name__ == "__main__":
    unittest.main()
