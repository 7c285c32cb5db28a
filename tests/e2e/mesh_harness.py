"""A local xmesh mesh for end-to-end tests: N clusters x M nodes, each node a real xmeshd
process on its own 127.0.1.x address, r2r links over mutual TLS 1.3 (or plain TCP),
one SQLite store per cluster shared by the cluster's nodes.

    with Mesh(clusters=3, nodes_per_cluster=2) as mesh:
        mesh.add_user("alice", "n11")          # before start(), or any time after
        mesh.start()
        a = mesh.login("alice")                 # RawClient logged in on alice's home node
        ...

Every process started is stopped by PID; everything lives in one temp dir.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from typing import Dict, List, Optional

from harness import DOMAIN, XMESHCTL, XMESHD, RawClient, free_port, parse_metrics

PASSWORD = "mesh-pass"


def seen(client, pattern: str, timeout: float = 10.0) -> str:
    """Waits until `pattern` occurs anywhere in what the client received (order-free)."""
    rx = re.compile(pattern, re.S)
    deadline = time.monotonic() + timeout
    while True:
        m = rx.search(client.text)
        if m:
            return m.group(0)
        if time.monotonic() > deadline:
            raise AssertionError(f"{pattern!r} not seen; got: {client.text[-1500:]!r}")
        client.collect(0.1)


class MeshNode:
    def __init__(self, mesh: "Mesh", cluster: int, index: int, address: str):
        self.mesh = mesh
        self.id = f"n{cluster}{index}"
        self.cluster = cluster
        self.address = address
        self.c2s_port = free_port()
        self.r2r_port = free_port()
        self.admin_port = free_port()
        self.data_dir = os.path.join(mesh.tmp, f"data-{self.id}")
        self.config_path = os.path.join(mesh.tmp, f"{self.id}.toml")
        self.log_path = os.path.join(mesh.tmp, f"{self.id}.log")
        self.extra_args: List[str] = []
        self.proc: Optional[subprocess.Popen] = None
        self._log = None

    @property
    def store_path(self) -> str:
        return self.mesh.store_path(self.cluster)

    def write_config(self):
        os.makedirs(self.data_dir, exist_ok=True)
        with open(self.config_path, "w") as f:
            f.write(f'domain = "{DOMAIN}"\nnode_id = "{self.id}"\nloops = 2\n'
                    f'data_dir = "{self.data_dir}"\nstore_path = "{self.store_path}"\n'
                    f'scram_iterations = 4096\nlog_level = "info"\n'
                    f'\n[limits]\nmax_connections_per_address = 0\n')

    def start(self, wait: bool = True):
        self.write_config()
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [XMESHD, "--config", self.config_path, "--topology", self.mesh.topology_path,
             "--node", self.id] + self.extra_args,
            stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=self.mesh.tmp)
        if wait:
            self.wait_ready()

    def wait_ready(self, timeout: float = 20.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.id} exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                socket.create_connection((self.address, self.c2s_port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"{self.id} not ready after {timeout}s:\n{self.log_tail()}")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout: float = 10.0):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=timeout)
        if self._log:
            self._log.close()
            self._log = None

    def log_tail(self, n: int = 80) -> str:
        try:
            with open(self.log_path, "rb") as f:
                return b"\n".join(f.read().splitlines()[-n:]).decode("utf-8", "replace")
        except OSError:
            return ""

    def http_get(self, path: str) -> str:
        import urllib.request
        with urllib.request.urlopen(f"http://{self.address}:{self.admin_port}{path}", timeout=5) as r:
            return r.read().decode()

    def status(self) -> dict:
        return json.loads(self.http_get("/status"))

    def metrics(self) -> Dict[str, float]:
        return parse_metrics(self.http_get("/metrics"))

    def srm(self) -> dict:
        return self.status()["srm"]

    def link(self, peer: str) -> dict:
        for l in self.status()["mesh"]["links"]:
            if l["peer"] == peer:
                return l
        raise KeyError(peer)


class Mesh:
    def __init__(self, clusters: int = 3, nodes_per_cluster: int = 2, secure: bool = True,
                 srm: str = "", pairs: bool = False):
        """pairs: the nodes of each cluster form HA presence redundancy groups of two (in
        order); srm: TOML lines for the mesh-wide [srm] table (e.g. sub-second timers)."""
        self.tmp = tempfile.mkdtemp(prefix="xmesh-mesh-")
        self.secure = secure
        self.pairs = pairs
        self.srm = srm
        self.nodes: List[MeshNode] = []
        k = 10
        for c in range(1, clusters + 1):
            for i in range(1, nodes_per_cluster + 1):
                k += 1
                self.nodes.append(MeshNode(self, c, i, f"127.0.1.{k}"))
        self.by_id = {n.id: n for n in self.nodes}
        self.topology_path = os.path.join(self.tmp, "topology.toml")
        self.homes: Dict[str, str] = {}
        self.write_topology()
        if secure:
            self.ctl("cert", "ca", "--out", os.path.join(self.tmp, "certs"))
            self.ctl("cert", "node", "--ca", os.path.join(self.tmp, "certs"), "--topology",
                     self.topology_path, "--out", os.path.join(self.tmp, "certs"))

    def store_path(self, cluster: int) -> str:
        return os.path.join(self.tmp, f"cluster{cluster}.db")

    def write_topology(self, r2r_overrides: Optional[Dict[str, tuple]] = None):
        """r2r_overrides: node id -> (address, port) others dial instead (a proxy)."""
        r2r_overrides = r2r_overrides or {}
        out = [f'domain = "{DOMAIN}"', 'assignment = "none"', "", "[security]",
               f"secure = {'true' if self.secure else 'false'}",
               'ca_file = "certs/ca.pem"', 'cert_file = "certs/{node}.pem"',
               'key_file = "certs/{node}.key"', ""]
        if self.srm:
            out += ["[srm]", self.srm, ""]
        clusters = sorted({n.cluster for n in self.nodes})
        for c in clusters:
            out += ["[[clusters]]", f'id = "c{c}"', ""]
            members = [n for n in self.nodes if n.cluster == c]
            for n in members:
                r2r_addr, r2r_port = r2r_overrides.get(n.id, (n.address, n.r2r_port))
                out += ["  [[clusters.nodes]]", f'  id = "{n.id}"', f'  host = "{n.address}"',
                        f"  c2s_port = {n.c2s_port}", f'  r2r_address = "{r2r_addr}"',
                        f"  r2r_port = {r2r_port}", f"  admin_port = {n.admin_port}", ""]
            step = 2 if self.pairs else 1
            for i in range(0, len(members), step):
                group = members[i:i + step]
                ids = ", ".join(f'"{n.id}"' for n in group)
                out += ["  [[clusters.groups]]", f'  id = "g-{group[0].id}"', f"  nodes = [{ids}]", ""]
        with open(self.topology_path, "w") as f:
            f.write("\n".join(out))

    def ctl(self, *args: str, db: Optional[str] = None) -> str:
        cmd = [XMESHCTL] + (["--db", db] if db else []) + list(args)
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=60, cwd=self.tmp)
        if r.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed ({r.returncode}): {r.stderr}{r.stdout}")
        return r.stdout

    def add_user(self, name: str, home: str, password: str = PASSWORD):
        db = self.by_id[home].store_path
        self.ctl("user", "add", name, "--password", password, "--iterations", "4096", db=db)
        self.ctl("user", "home", name, home, db=db)
        self.homes[name] = home

    # -- lifecycle ------------------------------------------------------------------------
    def start(self, timeout: float = 30.0):
        for n in self.nodes:
            n.start(wait=False)
        for n in self.nodes:
            n.wait_ready()
        self.wait_mesh(timeout)

    def wait_mesh(self, timeout: float = 30.0, nodes: Optional[List[MeshNode]] = None):
        """Until every link of every node is established and every directory sync ended."""
        nodes = nodes or self.nodes
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            ok = True
            for n in nodes:
                try:
                    st = n.status()["mesh"]
                except OSError as e:
                    ok, last = False, f"{n.id}: {e}"
                    break
                down = [l["peer"] for l in st["links"] if l["state"] != "established"]
                if down or not st["directory_complete"]:
                    ok, last = False, f"{n.id}: down={down} directory_complete={st['directory_complete']}"
                    break
            if ok:
                return
            time.sleep(0.1)
        raise AssertionError(f"mesh not up after {timeout}s: {last}\n" +
                             "\n".join(f"--- {n.id}\n{n.log_tail(20)}" for n in nodes))

    def stop(self):
        for n in self.nodes:
            n.stop()

    def __enter__(self) -> "Mesh":
        return self

    def __exit__(self, *exc):
        self.stop()
        if os.environ.get("XMESH_E2E_KEEP"):
            print(f"kept {self.tmp}")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)

    # -- clients --------------------------------------------------------------------------
    def login(self, user: str, node: Optional[str] = None, resource: str = "r",
              password: str = PASSWORD, timeout: float = 10.0) -> RawClient:
        n = self.by_id[node or self.homes[user]]
        c = RawClient(n.c2s_port, host=n.address, timeout=timeout)
        c.login(user, password, resource=resource)
        return c
