#!/usr/bin/python3
"""End-to-end, two nodes: two real xmeshd processes started from one topology file
(`--topology FILE --node ID`) share one SQLite store, provisioned with a 40-user
population whose homes are spread over both nodes (`gen-population --topology`, the
home column imported by `xmeshctl import`), driven by the real xmesh-loadgen.

Pins: users who connect to their home node log in there directly; users sent to the
wrong node (`--connect wrong`, or a single address without a topology) follow
<see-other-host/> once and are counted as redirects; the report gives the online users
per node and when the main phase started (after every login is resolved, plus settle);
logins that time out count as failures with reason "timeout".

Cross-node traffic needs the r2r mesh, which is not wired into xmeshd yet: the
population has no cross-node contacts (--remote-share 0), so the login storms and the
short steady phase only exchange presence and messages between users of one node. Once
the mesh routes between nodes, drop --remote-share 0 to cover remote contacts too.
Free ports, bounded runtime, processes stopped by PID.
"""
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import unittest

from e2e_test import LOADGEN, SCENARIOS, XMESHCTL, XMESHD, free_port, stop, wait_listening

USERS = 40
NODES = ("n1", "n2")


def topology_toml(c2s, r2r):
    # One cluster, each node its own presence redundancy group (no failover in play),
    # plain r2r (no certificates), admin endpoints off.
    nodes = "".join(f"""
  [[clusters.nodes]]
  id = "{n}"
  host = "127.0.0.1"
  c2s_port = {c2s[n]}
  r2r_port = {r2r[n]}
  admin_port = 0
""" for n in NODES)
    groups = "".join(f"""
  [[clusters.groups]]
  id = "g-{n}"
  nodes = ["{n}"]
""" for n in NODES)
    return f"""domain = "localhost"
[security]
secure = false
[[clusters]]
id = "c1"
{nodes}{groups}"""


class MeshLoadgenEndToEnd(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="xmesh-lg-mesh-e2e-")
        cls.c2s = {n: free_port() for n in NODES}
        r2r = {n: free_port() for n in NODES}
        cls.topology = os.path.join(cls.dir, "mesh.toml")
        with open(cls.topology, "w") as f:
            f.write(topology_toml(cls.c2s, r2r))
        cls.pop = os.path.join(cls.dir, "pop.csv")
        subprocess.run([LOADGEN, "gen-population", "--users", str(USERS), "--avg-contacts", "6",
                        "--topology", cls.topology, "--remote-share", "0", "--out", cls.pop],
                       check=True, timeout=120, stdout=subprocess.DEVNULL)
        # The nodes of one host share the cluster's store: one SQLite file, one data dir
        # per node (each keeps its own self-signed c2s certificate there).
        store = os.path.join(cls.dir, "xmesh.db")
        imp = subprocess.run([XMESHCTL, "--db", store, "import", cls.pop], check=True, timeout=120,
                             stdout=subprocess.PIPE, text=True)
        assert f"{USERS} with a home node" in imp.stdout, imp.stdout
        cls.servers, cls.logs = {}, []
        for n in NODES:
            data = os.path.join(cls.dir, n)
            os.makedirs(data)
            config = os.path.join(cls.dir, n + ".toml")
            with open(config, "w") as f:
                f.write(f'data_dir = "{data}"\nstore_path = "{store}"\nloops = 1\n')
            log = open(os.path.join(cls.dir, n + ".log"), "w")
            cls.logs.append(log)
            cls.servers[n] = subprocess.Popen([XMESHD, "--config", config, "--topology", cls.topology, "--node", n],
                                              stdout=log, stderr=subprocess.STDOUT)
        for n in NODES:
            if not wait_listening(cls.c2s[n], time.monotonic() + 15):
                cls.tearDownClass()
                raise RuntimeError(f"xmeshd {n} did not start; see {cls.dir}/{n}.log")

    @classmethod
    def tearDownClass(cls):
        for proc in cls.servers.values():
            stop(proc)
        for log in cls.logs:
            log.close()
        if not os.environ.get("KEEP_TMP"):
            shutil.rmtree(cls.dir, ignore_errors=True)

    def run_loadgen(self, name, scenario, *extra):
        out = os.path.join(self.dir, "out-" + name)
        cmd = [LOADGEN, "--scenario", os.path.join(SCENARIOS, scenario + ".toml"), "--users", str(USERS),
               "--population", self.pop, "--workers", "2", "--out", out, *extra]
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120)
        self.assertEqual(proc.returncode, 0, proc.stdout)
        with open(os.path.join(out, "report.json")) as f:
            return json.load(f), proc.stdout

    def assert_all_online(self, report, text):
        login = report["login"]
        self.assertEqual(login["online"], USERS, text)
        self.assertEqual(login["failures"], 0, text)
        self.assertEqual(login["dropped_later"], 0, text)

    def test_users_connect_to_their_home_node(self):
        report, text = self.run_loadgen("home", "login_storm", "--topology", self.topology, "--set", "duration=0.5")
        self.assert_all_online(report, text)
        login = report["login"]
        self.assertEqual(login["redirects"], 0, text)
        self.assertEqual(login["online_by_node"], {"n1": USERS // 2, "n2": USERS // 2}, text)
        self.assertEqual([n["address"] for n in login["nodes"]],
                         [f"127.0.0.1:{self.c2s[n]}" for n in NODES])
        self.assertIn("online on n1", text)

    def test_wrong_node_redirects_are_followed_and_main_phase_waits(self):
        # Rate-limited so the storm lasts longer than login_timeout + 5 s: the main phase
        # used to start then, with logins still running; now it waits for all of them.
        report, text = self.run_loadgen("wrong", "login_storm", "--topology", self.topology, "--connect", "wrong",
                                        "--login-rate", "4", "--set", "login_timeout=3", "--settle", "1",
                                        "--set", "duration=0.5")
        self.assert_all_online(report, text)
        login = report["login"]
        self.assertEqual(login["redirects"], USERS, text)
        for node in login["nodes"]:
            self.assertEqual(node["online"], USERS // 2, text)
            self.assertEqual(node["redirected_here"], USERS // 2, text)
        phases = report["phases"]
        self.assertFalse(phases["logins_expired"], text)
        self.assertGreater(phases["login_resolved_s"], 9, text)  # the 40th login starts at ~9.75 s
        self.assertGreaterEqual(phases["main_started_s"], phases["login_resolved_s"] + 1, text)
        for entry in report["timeline"]:
            if entry["phase"] == "main":
                self.assertEqual(entry["online"], USERS, entry)

    def test_single_address_follows_redirects_without_topology(self):
        report, text = self.run_loadgen("single", "login_storm", "--port", str(self.c2s["n1"]),
                                        "--set", "duration=0.5")
        self.assert_all_online(report, text)
        login = report["login"]
        self.assertEqual(login["redirects"], USERS // 2, text)  # the users homed on n2
        n1, n2 = f"127.0.0.1:{self.c2s['n1']}", f"127.0.0.1:{self.c2s['n2']}"
        self.assertEqual(login["online_by_node"], {n1: USERS // 2, n2: USERS // 2}, text)

    def test_same_node_steady_traffic(self):
        report, text = self.run_loadgen("steady", "steady", "--topology", self.topology, "--duration", "3",
                                        "--settle", "0.5", "--set", "msgs_per_user_hour=3600",
                                        "--set", "presence_per_user_hour=360")
        self.assert_all_online(report, text)
        msgs = report["messages"]
        self.assertGreater(msgs["sent"], 50, text)
        self.assertEqual(msgs["delivered"], msgs["sent"], text)
        self.assertEqual(msgs["duplicated"], 0, text)
        self.assertGreater(report["presence"]["received"], 0, text)


class LoginTimeoutEndToEnd(unittest.TestCase):
    """A server that accepts connections and never answers: every login must end as a
    failure with reason "timeout", and the main phase starts only after that."""

    def test_timed_out_logins_are_failures(self):
        with socket.socket() as silent:
            silent.bind(("127.0.0.1", 0))
            silent.listen(64)  # the kernel completes the handshakes; nothing is ever read
            port = silent.getsockname()[1]
            out = tempfile.mkdtemp(prefix="xmesh-lg-timeout-")
            try:
                proc = subprocess.run([LOADGEN, "--scenario", os.path.join(SCENARIOS, "login_storm.toml"),
                                       "--users", "6", "--port", str(port), "--workers", "2", "--out", out,
                                       "--set", "login_timeout=1.5", "--settle", "0.5", "--set", "duration=0.2"],
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=60)
                self.assertEqual(proc.returncode, 0, proc.stdout)
                with open(os.path.join(out, "report.json")) as f:
                    report = json.load(f)
            finally:
                shutil.rmtree(out, ignore_errors=True)
        login, phases = report["login"], report["phases"]
        self.assertEqual(login["online"], 0, proc.stdout)
        self.assertEqual(login["failures"], 6, proc.stdout)
        self.assertEqual(login["failure_reasons"], {"timeout": 6}, proc.stdout)
        self.assertGreaterEqual(phases["login_resolved_s"], 1.5, proc.stdout)
        self.assertGreaterEqual(phases["main_started_s"], phases["login_resolved_s"] + 0.5, proc.stdout)


if __name__ == "__main__":
    unittest.main(verbosity=2)
