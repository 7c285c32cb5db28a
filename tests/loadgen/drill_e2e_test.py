#!/usr/bin/python3
"""The failover drill end to end (issue 5): one cluster, one HA pair of real xmeshd
processes (n1, n2) sharing the cluster's SQLite store, sub-second SRM timers, 500 users
balanced over the pair, driven by the real xmesh-loadgen under steady traffic.

- dual clients, kill -9: n1 is killed; its users hold inactive sessions on n2 and
  activate them; then n1 is restarted and `xmeshctl fallback` brings them home without
  a reconnect. Every user is active again within the bound, none is lost for good.
- plain clients, manual failover and fallback through xmeshctl: n1's users are sent to
  n2 with see-other-host and log in again there, then come home at the fallback.

Messages: nothing acknowledged may be lost in the manual drill (the nodes are alive and
the cluster's store keeps what a moving user could not take), and nothing is delivered
twice (a moved plain session is asked for its XEP-0198 count before it is redirected).
In the dual drill the serving node replicates every stanza its sessions have not
acknowledged to its peer (router/replica_records.h), and the activation there delivers
exactly what follows the client's h: the fallback (both nodes alive) loses and
duplicates nothing. At the kill -9 the messages the clients had written on the broken
stream without an ack are in doubt (not counted lost), and what was in flight on the
r2r link to the killed process can still be lost or come twice: pinned to a bound.
Free ports, bounded runtime, processes stopped by PID.
"""
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

from e2e_test import LOADGEN, SCENARIOS, XMESHCTL, XMESHD, free_port, stop, wait_listening

USERS = 500
NODES = ("n1", "n2")
ASSIGNMENT = "balanced"  # perf/failover_drill also runs "active-standby"
TICKET_KEYS = True  # one tls.ticket_key_file for the pair (perf/failover_drill: TICKET_KEYS=0 to compare)
LOOPS = 1  # client loops per node (perf/failover_drill: LOOPS=2 lets the survivor use both cores)
SRM = """[srm]
heartbeat_interval = "200ms"
heartbeat_timeout = "1s"
init_heartbeat_timeout = "3s"
"""


def topology_toml(ports):
    nodes = "".join(f"""
  [[clusters.nodes]]
  id = "{n}"
  host = "127.0.0.1"
  c2s_port = {ports[n]['c2s']}
  r2r_port = {ports[n]['r2r']}
  admin_port = {ports[n]['admin']}
""" for n in NODES)
    return f"""domain = "localhost"
assignment = "{ASSIGNMENT}"
{SRM}
[security]
secure = false
[[clusters]]
id = "c1"
{nodes}
  [[clusters.groups]]
  id = "pair"
  nodes = ["n1", "n2"]
"""


class DrillEndToEnd(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="xmesh-drill-e2e-")
        self.ports = {n: {"c2s": free_port(), "r2r": free_port(), "admin": free_port()} for n in NODES}
        self.topology = os.path.join(self.dir, "mesh.toml")
        with open(self.topology, "w") as f:
            f.write(topology_toml(self.ports))
        self.pop = os.path.join(self.dir, "pop.csv")
        subprocess.run([LOADGEN, "gen-population", "--users", str(USERS), "--avg-contacts", "6",
                        "--topology", self.topology, "--out", self.pop],
                       check=True, timeout=120, stdout=subprocess.DEVNULL)
        self.store = os.path.join(self.dir, "xmesh.db")
        subprocess.run([XMESHCTL, "--db", self.store, "import", self.pop], check=True, timeout=120,
                       stdout=subprocess.DEVNULL)
        self.servers, self.logs = {}, []
        for n in NODES:
            self.start_node(n)
        for n in NODES:
            self.wait_normal(n)

    def tearDown(self):
        for proc in self.servers.values():
            stop(proc)
        for log in self.logs:
            log.close()
        pidfile = os.path.join(self.dir, "n1.restarted.pid")
        if os.path.exists(pidfile):  # the node the drill's fallback command restarted
            try:
                os.kill(int(open(pidfile).read()), 15)
                time.sleep(0.5)
            except (OSError, ValueError):
                pass
        if not os.environ.get("KEEP_TMP"):
            shutil.rmtree(self.dir, ignore_errors=True)

    def node_cmd(self, n):
        data = os.path.join(self.dir, n)
        os.makedirs(data, exist_ok=True)
        config = os.path.join(self.dir, n + ".toml")
        with open(config, "w") as f:
            # One ticket key secret for the pair: a re-login to the peer resumes its TLS session.
            f.write(f'data_dir = "{data}"\nstore_path = "{self.store}"\nloops = {LOOPS}\n')
            if TICKET_KEYS:
                f.write(f'[tls]\nticket_key_file = "{self.ticket_key()}"\n')
        return [XMESHD, "--config", config, "--topology", self.topology, "--node", n]

    def ticket_key(self):
        path = os.path.join(self.dir, "ticket.key")
        if not os.path.exists(path):
            with open(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600), "wb") as f:
                f.write(os.urandom(32))
        return path

    def start_node(self, n):
        log = open(os.path.join(self.dir, n + ".log"), "a")
        self.logs.append(log)
        self.servers[n] = subprocess.Popen(self.node_cmd(n), stdout=log, stderr=subprocess.STDOUT)
        if not wait_listening(self.ports[n]["c2s"], time.monotonic() + 15):
            raise RuntimeError(f"xmeshd {n} did not start; see {self.dir}/{n}.log")

    def srm(self, n):
        import urllib.request
        url = f"http://127.0.0.1:{self.ports[n]['admin']}/status"
        with urllib.request.urlopen(url, timeout=5) as r:
            return json.loads(r.read())["srm"]

    def wait_normal(self, n, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.srm(n)["state_slug"] == "normal":
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"{n} not Normal after {timeout}s")

    def ctl(self, *args):
        return " ".join(shlex.quote(a) for a in [XMESHCTL, *args])

    def run_drill(self, name, scenario, *sets):
        out = os.path.join(self.dir, "out-" + name)
        cmd = [LOADGEN, "--scenario", os.path.join(SCENARIOS, scenario + ".toml"), "--users", str(USERS),
               "--population", self.pop, "--topology", self.topology, "--workers", "2", "--out", out]
        for s in sets:
            cmd += ["--set", s]
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=240)
        sys.stdout.write(proc.stdout[-4000:])
        self.assertEqual(proc.returncode, 0, proc.stdout[-3000:])
        with open(os.path.join(out, "report.json")) as f:
            return json.load(f), proc.stdout

    def assert_everyone_back(self, step, affected, text):
        self.assertEqual(step["users_affected"], affected, text[-3000:])
        self.assertEqual(step["users_not_back"], 0, text[-3000:])
        self.assertEqual(step["users_back_late"], 0, text[-3000:])

    def test_dual_clients_survive_kill_9_and_come_home_at_fallback(self):
        # The fallback command restarts n1 (its old process is gone), waits for it to
        # settle failed over, then asks for the fallback.
        restart = os.path.join(self.dir, "restart-n1.sh")
        pidfile = os.path.join(self.dir, "n1.restarted.pid")
        with open(restart, "w") as f:
            f.write("#!/bin/sh\n"
                    f"{' '.join(shlex.quote(a) for a in self.node_cmd('n1'))} >> {shlex.quote(self.dir)}/n1.log 2>&1 &\n"
                    f"echo $! > {shlex.quote(pidfile)}\n"
                    "for i in $(seq 1 100); do\n"
                    f"  {self.ctl('fallback', 'n1', '--topology', self.topology)} && exit 0\n"
                    "  sleep 0.1\n"
                    "done\nexit 1\n")
        pid = self.servers["n1"].pid
        report, text = self.run_drill(
            "dual-kill", "failover_drill_dual", f"drill.command=kill -9 {pid}", "drill.at=4",
            "drill.fallback_at=12", f"drill.fallback_command=sh {restart}", "drill.timeout=8",
            "duration=22", "msgs_per_user_hour=720", "dual_relogin_delay_ms=200")
        del self.servers["n1"]  # killed by the drill; the restarted one is stopped by pid
        drill = report["drill"]
        self.assertTrue(drill["dual"])
        failover, fallback = drill["failover"], drill["fallback"]
        self.assert_everyone_back(failover, USERS // 2, text)
        self.assert_everyone_back(fallback, USERS // 2, text)
        # Detection (1-s timeout) plus activation: every user active on n2 within 2 s.
        self.assertLess(failover["downtime_us"]["max"], 2_000_000, text[-3000:])
        self.assertLess(failover["last_user_back_s"], 2.0, text[-3000:])
        # Fallback moves users without a reconnect.
        self.assertLess(fallback["downtime_us"]["max"], 2_000_000, text[-3000:])
        # Replicated: the fallback, between two live nodes, is exact.
        m = fallback["messages"]
        self.assertGreater(m["sent"], 100, text[-3000:])
        self.assertEqual(m["lost"], 0, text[-3000:])
        self.assertEqual(m["duplicated"], 0, text[-3000:])
        # The kill: what the clients wrote without an ack is in doubt; what was in flight
        # on the r2r link into the dead process may be lost or (resent to its next
        # incarnation) come twice. Measured 0 lost / 0 duplicated in most runs.
        m = failover["messages"]
        self.assertGreater(m["sent"], 100, text[-3000:])
        self.assertLessEqual(m["lost"] + m["in_doubt"] + m["duplicated"], m["sent"] // 50, text[-3000:])

    def test_plain_clients_manual_failover_and_fallback_lose_nothing(self):
        report, text = self.run_drill(
            "plain-manual", "failover_drill",
            f"drill.command={self.ctl('failover', 'n1', '--topology', self.topology)}", "drill.at=4",
            "drill.fallback_at=12", f"drill.fallback_command={self.ctl('fallback', 'n1', '--topology', self.topology)}",
            "drill.timeout=8", "duration=22", "msgs_per_user_hour=720")
        drill = report["drill"]
        self.assertFalse(drill["dual"])
        self.assert_everyone_back(drill["failover"], USERS // 2, text)
        self.assert_everyone_back(drill["fallback"], USERS // 2, text)
        for step in (drill["failover"], drill["fallback"]):
            self.assertLess(step["downtime_us"]["max"], 8_000_000, text[-3000:])
            self.assertGreater(step["messages"]["sent"], 100, text[-3000:])
            self.assertEqual(step["messages"]["lost"], 0, text[-3000:])
            self.assertEqual(step["messages"]["duplicated"], 0, text[-3000:])


if __name__ == "__main__":
    unittest.main(verbosity=2)
