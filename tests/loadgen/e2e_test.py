#!/usr/bin/python3
"""End-to-end: a real xmeshd with a provisioned 200-user population, driven by the real
xmesh-loadgen binary through a login storm and a 5-second steady phase, and through a
reconnect storm (warmup logins, then every user resuming its TLS session).

Pins: every user comes online, nothing is lost or duplicated, and the report has the
numbers the perf harness reads. Free ports, bounded runtime, processes stopped by PID.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

XMESHD = os.environ.get("XMESHD", "xmeshd")
XMESHCTL = os.environ.get("XMESHCTL", "xmeshctl")
LOADGEN = os.environ.get("XMESH_LOADGEN", "xmesh-loadgen")
SCENARIOS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "loadgen", "scenarios")
USERS = 200


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port, deadline):
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def stop(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class LoadgenEndToEnd(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="xmesh-lg-e2e-")
        cls.pop = os.path.join(cls.dir, "pop.csv")
        subprocess.run([LOADGEN, "gen-population", "--users", str(USERS), "--avg-contacts", "100",
                        "--out", cls.pop], check=True, timeout=120)
        data = os.path.join(cls.dir, "data")
        os.makedirs(data)
        subprocess.run([XMESHCTL, "--db", os.path.join(data, "xmesh.db"), "import", cls.pop],
                       check=True, timeout=120)
        cls.port, admin = free_port(), free_port()
        cls.log = open(os.path.join(cls.dir, "xmeshd.log"), "w")
        cls.server = subprocess.Popen([XMESHD, "--data-dir", data, "--c2s-port", str(cls.port),
                                       "--admin-port", str(admin), "--loops", "2"],
                                      stdout=cls.log, stderr=subprocess.STDOUT)
        if not wait_listening(cls.port, time.monotonic() + 15):
            stop(cls.server)
            raise RuntimeError("xmeshd did not start; see " + cls.log.name)

    @classmethod
    def tearDownClass(cls):
        stop(cls.server)
        cls.log.close()
        if not os.environ.get("KEEP_TMP"):
            shutil.rmtree(cls.dir, ignore_errors=True)

    def run_scenario(self, name, *extra, tag=None, server_pid=None):
        out = os.path.join(self.dir, "out-" + (tag or name))
        pid = server_pid or self.server.pid
        cmd = [LOADGEN, "--scenario", os.path.join(SCENARIOS, name + ".toml"), "--users", str(USERS),
               "--port", str(self.port), "--population", self.pop, "--server-pid", str(pid),
               "--workers", "2", "--out", out, *extra]
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120)
        self.assertEqual(proc.returncode, 0, proc.stdout)
        with open(os.path.join(out, "report.json")) as f:
            return json.load(f), proc.stdout

    def test_login_storm_then_steady(self):
        report, text = self.run_scenario("login_storm", "--set", "duration=0.5")
        login = report["login"]
        self.assertEqual(login["online"], USERS, text)
        self.assertEqual(login["failures"], 0, text)
        self.assertGreater(login["logins_per_s"], 0)
        self.assertEqual(login["scram_cache"]["misses"], 0, "the key file should spare every PBKDF2 run")
        self.assertIn("p99", login["latency_us"])
        # The default is the cold-start storm: every login a full TLS handshake.
        self.assertEqual(login["tls"], {"resumption": False, "sessions_offered": 0, "resumed": 0,
                                        "full": USERS}, text)
        self.assertIn("tls_resumption off: cold start", text)

        # 200 users x 3600/h = 200 msgs/s for 5 s, plus presence changes fanned out.
        report, text = self.run_scenario("steady", "--duration", "5", "--set", "msgs_per_user_hour=3600",
                                         "--set", "presence_per_user_hour=360")
        self.assertEqual(report["login"]["online"], USERS, text)
        msgs = report["messages"]
        self.assertGreater(msgs["sent"], 500, text)
        self.assertEqual(msgs["lost"], 0, text)
        self.assertEqual(msgs["duplicated"], 0, text)
        self.assertEqual(msgs["delivered"], msgs["sent"], text)
        self.assertGreater(report["presence"]["received"], 0, text)
        for key in ("p50", "p90", "p99", "p99_9", "max"):
            self.assertIn(key, msgs["latency_us"])
        self.assertGreater(len(report["timeline"]), 3)
        # The full histogram is in the report, and report.html sits next to report.json.
        hist = msgs["latency_histogram"]
        self.assertEqual(sum(b[2] for b in hist["buckets"]), msgs["delivered"])
        self.assertIn("html report: ", text)
        with open(os.path.join(self.dir, "out-steady", "report.html")) as f:
            page = f.read()
        self.assertTrue(page.startswith("<!DOCTYPE html>"))
        self.assertNotIn("<script", page)
        self.assertNotIn("https://", page)
        for part in ("Messages per second", "Message latency histogram", "Latency by percentile", "<svg"):
            self.assertIn(part, page)

    def test_main_phase_waits_until_the_server_has_settled(self):
        """settle_server_cpu_below: the main phase starts once the server used less than
        that share of a core over a second, or at settle_max. A spinning shell stands in
        for a server still working off its login storm; the idle xmeshd settles at once."""
        spinner = subprocess.Popen(["/bin/sh", "-c", "while :; do :; done"])
        try:
            report, text = self.run_scenario("login_storm", "--set", "duration=0.5",
                                             "--set", "settle_server_cpu_below=20", "--set", "settle_max=3",
                                             tag="settle-busy", server_pid=spinner.pid)
        finally:
            spinner.kill()
            spinner.wait()
        phases = report["phases"]
        self.assertEqual(phases["settle_server_cpu_below"], 20)
        self.assertGreaterEqual(phases["main_started_s"] - phases["login_resolved_s"], 2.9, text)
        report, text = self.run_scenario("login_storm", "--set", "duration=0.5",
                                         "--set", "settle_server_cpu_below=20", "--set", "settle_max=30",
                                         tag="settle-idle")
        phases = report["phases"]
        self.assertLess(phases["main_started_s"] - phases["login_resolved_s"], 10, text)

    def test_spin_pacing_sends_each_message_when_due(self):
        """spin_pacing: the send loop never sleeps, so messages leave one by one instead of
        in the 1-ms timer's bursts; the rate and the delivery count are the same."""
        report, text = self.run_scenario("steady", "--duration", "2", "--set", "msgs_per_user_hour=3600",
                                         "--set", "presence_per_user_hour=0", "--set", "spin_pacing=true",
                                         tag="spin")
        self.assertEqual(report["scenario"]["spin_pacing"], "true", text)
        msgs = report["messages"]
        self.assertGreater(msgs["sent"], 300, text)  # 200 users x 1/s for 2 s
        self.assertEqual(msgs["delivered"], msgs["sent"], text)
        self.assertEqual(msgs["lost"], 0, text)
        # The generator's core spins in the main phase: its CPU there is close to the wall time.
        self.assertGreater(report["cpu"]["loadgen_main_s"], 1.0, text)

    def test_reconnect_storm_resumes_tls(self):
        """warmup_logins + tls_resumption: every user logs in and out once, then the
        measured storm is all users reconnecting with the ticket of their first
        connection (pins the per-user session cache, the graceful warmup logout and that
        xmeshd issues tickets that resume)."""
        report, text = self.run_scenario("login_storm", "--set", "duration=0.5", "--set", "tls_resumption=true",
                                         "--set", "warmup_logins=true", "--set", "warmup_settle=0.2",
                                         tag="reconnect")
        login = report["login"]
        self.assertEqual(login["online"], USERS, text)
        self.assertEqual(login["logins"], USERS, text)
        self.assertEqual(login["failures"], 0, text)
        self.assertEqual(login["warmup"]["logins"], USERS, text)
        self.assertEqual(login["warmup"]["failures"], 0, text)
        self.assertEqual(login["tls"], {"resumption": True, "sessions_offered": USERS, "resumed": USERS,
                                        "full": 0}, text)
        self.assertIn("warmup done: %d users logged in and out" % USERS, text)
        self.assertIn("resumed %d / full 0" % USERS, text)


if __name__ == "__main__":
    unittest.main(verbosity=2)
