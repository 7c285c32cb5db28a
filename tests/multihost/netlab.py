"""A multi-host xmesh deployment on one Linux machine, for tests: every host is a network
namespace with its own address on one private LAN.

    hub   (namespace <tag>-hub)   bridge br0, 10.77.0.254/24: the switch, and the host the
                                  test's XMPP clients, admin requests and xmeshctl run on
    db    (namespace <tag>-db)    10.77.0.10: PostgreSQL (initdb into a temp dir, run as the
                                  `postgres` user, listening on 10.77.0.10 only, SCRAM
                                  logins admitted from 10.77.0.0/24 only)
    n1-n4 (namespace <tag>-nK)    10.77.0.11-14: one xmeshd each, on the standard ports
                                  (5222 c2s, 7400 r2r, 9400 admin): each host has its own

Each host namespace is joined to the bridge by a veth pair (`eth0` in the host, `v-<host>`
on the bridge), created directly inside the namespaces: nothing is added to the root
namespace, so nothing on the machine (its routes, its firewall, Docker's bridge-netfilter
rules) sees this traffic. `ip -n <tag>-n1 link set eth0 down` cuts a host off the LAN.

The test process itself moves its main thread into the hub namespace (setns) for the
duration, so the sockets it opens (RawClient, urllib) and the processes it starts without
`ip netns exec` (xmeshctl) are on the hub host. Every process started is stopped by PID;
namespaces and the temp dir are removed by close(), which is idempotent.
"""
from __future__ import annotations

import ctypes
import errno
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from typing import Dict, List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
from harness import DOMAIN, REPO, XMESHCTL, XMESHD, RawClient, parse_metrics  # noqa: E402


def _loadgen() -> str:
    if os.environ.get("XMESH_LOADGEN"):
        return os.environ["XMESH_LOADGEN"]
    for d in ("build", "build-me", "build-e2e"):
        p = os.path.join(REPO, d, "loadgen", "xmesh-loadgen")
        if os.path.exists(p):
            return p
    return "xmesh-loadgen"


LOADGEN = _loadgen()
SUBNET = "10.77.0"
HUB_ADDR = f"{SUBNET}.254"
DB_ADDR = f"{SUBNET}.10"
PG_USER = "xmesh"
PG_PASSWORD = "xmesh-multihost-pw"
C2S_PORT, R2R_PORT, ADMIN_PORT = 5222, 7400, 9400

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def _setns(fd: int):
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"setns: {os.strerror(e)}")


PR_SET_PDEATHSIG = 1


def _die_with_us(sig=signal.SIGTERM):
    """For preexec_fn: the child gets `sig` should this process die without stopping it
    (e.g. killed by a timeout), so no node or database outlives a killed test."""
    _libc.prctl(PR_SET_PDEATHSIG, int(sig))


def run(cmd: List[str], timeout: float = 60, check: bool = True, **kw) -> subprocess.CompletedProcess:
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL, **kw)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({r.returncode}): {r.stderr.strip()} {r.stdout.strip()}")
    return r


def namespaces_unavailable() -> Optional[str]:
    """None when this process can create a network namespace, else why not."""
    name = f"xmh{os.getpid()}-probe"
    try:
        r = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"`ip netns add` cannot run: {e}"
    if r.returncode != 0:
        return f"`ip netns add` failed ({r.returncode}): {r.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=20)
    return None


def sweep_stale_namespaces():
    """Deletes namespaces a killed earlier run left (xmh<pid>-*, that pid gone, no process
    inside). Kills nothing."""
    r = run(["ip", "netns", "list"], check=False)
    for line in r.stdout.splitlines():
        m = re.match(r"(xmh(\d+)-\S+)", line.strip())
        if not m or int(m.group(2)) == os.getpid() or os.path.exists(f"/proc/{m.group(2)}"):
            continue
        if run(["ip", "netns", "pids", m.group(1)], check=False).stdout.strip():
            continue
        run(["ip", "netns", "del", m.group(1)], check=False)


def wait_for(pred, timeout: float, what: str, step: float = 0.05):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = pred()
            if last:
                return last
        except (OSError, ValueError) as e:  # admin port not up, link down, ...
            last = e
        time.sleep(step)
    raise AssertionError(f"{what}: not after {timeout}s (last: {last!r})")


def stop_pid(proc: Optional[subprocess.Popen], sig=signal.SIGTERM, timeout: float = 10.0):
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=timeout)


def tail(path: str, n: int = 40) -> str:
    try:
        with open(path, "rb") as f:
            return b"\n".join(f.read().splitlines()[-n:]).decode("utf-8", "replace")
    except OSError:
        return ""


# ---------------------------------------------------------------------------------------
# The network
# ---------------------------------------------------------------------------------------

class Lab:
    def __init__(self):
        sweep_stale_namespaces()
        self.tag = f"xmh{os.getpid()}"
        self.tmp = tempfile.mkdtemp(prefix="xmesh-multihost-")
        os.chmod(self.tmp, 0o711)  # the postgres user goes through it to its own folder
        self.namespaces: List[str] = []
        self.hub = self.ns("hub")
        self._home_fd: Optional[int] = None
        self._hub_fd: Optional[int] = None
        self.closed = False
        self.pgpass = os.path.join(self.tmp, "pgpass")
        # What every process we start gets: libpq reads the password from here, so it
        # is in no config file, command line or connection string.
        self.env = dict(os.environ, PGPASSFILE=self.pgpass)

    def ns(self, short: str) -> str:
        return f"{self.tag}-{short}"

    def ip(self, *args: str, check: bool = True):
        return run(["ip", *args], check=check, timeout=20)

    def up(self):
        self._add_ns(self.hub)
        self.ip("-n", self.hub, "link", "add", "br0", "type", "bridge")
        self.ip("-n", self.hub, "addr", "add", f"{HUB_ADDR}/24", "dev", "br0")
        self.ip("-n", self.hub, "link", "set", "br0", "up")
        self._home_fd = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        self._hub_fd = os.open(f"/run/netns/{self.hub}", os.O_RDONLY)
        _setns(self._hub_fd)

    def _add_ns(self, name: str):
        self.ip("netns", "add", name)
        self.namespaces.append(name)
        self.ip("-n", name, "link", "set", "lo", "up")

    def add_host(self, short: str, address: str) -> str:
        """A host namespace on the LAN: eth0 with `address`/24, its veth peer on br0."""
        name = self.ns(short)
        self._add_ns(name)
        peer = f"v-{short}"
        self.ip("-n", self.hub, "link", "add", peer, "type", "veth", "peer", "name", "eth0", "netns", name)
        self.ip("-n", self.hub, "link", "set", peer, "master", "br0", "up")
        self.ip("-n", name, "addr", "add", f"{address}/24", "dev", "eth0")
        self.ip("-n", name, "link", "set", "eth0", "up")
        return name

    def set_link(self, short: str, up: bool):
        self.ip("-n", self.ns(short), "link", "set", "eth0", "up" if up else "down")

    class _In:
        def __init__(self, lab: "Lab", name: str):
            self.lab, self.name = lab, name

        def __enter__(self):
            fd = os.open(f"/run/netns/{self.name}", os.O_RDONLY)
            try:
                _setns(fd)
            finally:
                os.close(fd)

        def __exit__(self, *exc):
            _setns(self.lab._hub_fd)

    def inside(self, short: str) -> "_In":
        """`with lab.inside("n1"):` sockets opened in the block belong to host n1."""
        return Lab._In(self, self.ns(short))

    def close(self):
        if self.closed:
            return
        self.closed = True
        if self._home_fd is not None:
            try:
                _setns(self._home_fd)
            except OSError:
                pass
            os.close(self._home_fd)
            self._home_fd = None
        if self._hub_fd is not None:
            os.close(self._hub_fd)
            self._hub_fd = None
        # Host namespaces first (their veths go with them), the hub last.
        for name in reversed(self.namespaces):
            run(["ip", "netns", "del", name], check=False, timeout=20)
        self.namespaces = []
        if os.environ.get("XMESH_MULTIHOST_KEEP"):
            print(f"kept {self.tmp}")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)


# ---------------------------------------------------------------------------------------
# PostgreSQL on its own host
# ---------------------------------------------------------------------------------------

def pg_bindir() -> str:
    if os.environ.get("XMESH_PG_BINDIR"):
        return os.environ["XMESH_PG_BINDIR"]
    best, best_major = "", -1
    try:
        entries = os.listdir("/usr/lib/postgresql")
    except OSError:
        entries = []
    for e in entries:
        b = os.path.join("/usr/lib/postgresql", e, "bin")
        if e.isdigit() and int(e) > best_major and os.path.exists(os.path.join(b, "initdb")):
            best, best_major = b, int(e)
    if not best:
        raise RuntimeError("no PostgreSQL server binaries in /usr/lib/postgresql/*/bin; "
                           "scripts/install-deps installs the 'postgresql' package (or set XMESH_PG_BINDIR)")
    return best


class Postgres:
    def __init__(self, lab: Lab, host: str = "db", address: str = DB_ADDR):
        self.lab, self.host, self.address = lab, host, address
        self.bindir = pg_bindir()
        self.dir = os.path.join(lab.tmp, "pg")  # data/, the unix socket, logs
        self.data = os.path.join(self.dir, "data")
        self.log_path = os.path.join(self.dir, "server.log")
        self.port = 0
        self.proc: Optional[subprocess.Popen] = None
        self._log = None

    @staticmethod
    def _postgres_user() -> Optional[pwd.struct_passwd]:
        """We are root: the server refuses to run as root, so it runs as `postgres`."""
        if os.geteuid() != 0:
            return None
        try:
            return pwd.getpwnam("postgres")
        except KeyError:
            raise RuntimeError("running as root and there is no 'postgres' user to run the server as")

    def _as_postgres(self) -> List[str]:
        return ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--"] \
            if self._postgres_user() else []

    def init(self):
        os.makedirs(self.dir)
        pwfile = os.path.join(self.dir, "pwfile")
        with open(pwfile, "w") as f:
            f.write(PG_PASSWORD + "\n")
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            for p in (self.dir, pwfile):
                os.chown(p, pw.pw_uid, pw.pw_gid)
        run(self._as_postgres() + [os.path.join(self.bindir, "initdb"), "-D", self.data, "-U", PG_USER,
                                   "--pwfile=" + pwfile, "--auth-local=trust", "--auth-host=scram-sha-256",
                                   "-E", "UTF8", "--locale=C", "--no-sync"], timeout=120)
        os.unlink(pwfile)
        # Unix socket (the test's own admin connections) trusted; over TCP only the LAN,
        # only user xmesh, only with its SCRAM password. Nothing else.
        with open(os.path.join(self.data, "pg_hba.conf"), "w") as f:
            f.write("local all all trust\n"
                    f"host all {PG_USER} {SUBNET}.0/24 scram-sha-256\n")
        # Any port is free on a host of its own; take one that is not the default anyway.
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        with open(self.lab.pgpass, "w") as f:
            f.write(f"{self.address}:{self.port}:*:{PG_USER}:{PG_PASSWORD}\n")
        os.chmod(self.lab.pgpass, 0o600)

    def start(self, timeout: float = 30.0):
        self._log = open(self.log_path, "ab")
        ns_path = f"/run/netns/{self.lab.ns(self.host)}"
        pw = self._postgres_user()

        def on_db_host():  # in the child: what `ip netns exec` + setpriv do, then PDEATHSIG
            fd = os.open(ns_path, os.O_RDONLY)
            _setns(fd)
            os.close(fd)
            if pw:
                os.setgroups([])
                os.setgid(pw.pw_gid)
                os.setuid(pw.pw_uid)
            _die_with_us(signal.SIGQUIT)  # after setuid, which clears it

        cmd = [os.path.join(self.bindir, "postgres"), "-D", self.data, "-p", str(self.port), "-k", self.dir,
            "-c", f"listen_addresses={self.address}", "-c", "fsync=off", "-c", "full_page_writes=off",
            "-c", "synchronous_commit=off", "-c", "max_connections=60", "-c", "shared_buffers=32MB",
            "-c", "log_min_messages=warning"]
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     preexec_fn=on_db_host, cwd=self.dir)
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"postgres exited with {self.proc.returncode}:\n{tail(self.log_path)}")
            r = run([os.path.join(self.bindir, "pg_isready"), "-q", "-h", self.dir, "-p", str(self.port)],
                    check=False, timeout=10)
            if r.returncode == 0:
                return
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"postgres not ready after {timeout}s:\n{tail(self.log_path)}")
            time.sleep(0.05)

    def stop(self, timeout: float = 20.0):
        """Fast shutdown (SIGINT to the postmaster): sessions are cut, not waited for.
        (SIGTERM would be a smart shutdown, waiting for the nodes to disconnect.)"""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=timeout)
        if self._log:
            self._log.close()
            self._log = None

    def admin(self, *args: str) -> str:
        """A client tool (createdb, dropdb, ...) as xmesh over the unix socket."""
        return run([os.path.join(self.bindir, args[0]), "-h", self.dir, "-p", str(self.port), "-U", PG_USER,
                    *args[1:]], timeout=60).stdout

    def url(self, db: str) -> str:
        return f"postgresql://{PG_USER}@{self.address}:{self.port}/{db}"


# ---------------------------------------------------------------------------------------
# xmeshd hosts and the deployment
# ---------------------------------------------------------------------------------------

class Node:
    def __init__(self, dep: "Deployment", id: str, cluster: str, address: str):
        self.dep, self.id, self.cluster, self.address = dep, id, cluster, address
        self.data_dir = os.path.join(dep.dir, f"data-{id}")
        self.config_path = os.path.join(dep.dir, f"{id}.toml")
        self.log_path = os.path.join(dep.dir, f"{id}.log")
        self.proc: Optional[subprocess.Popen] = None
        self._log = None

    def write_config(self):
        os.makedirs(self.data_dir, exist_ok=True)
        with open(self.config_path, "w") as f:
            f.write(f'domain = "{DOMAIN}"\nnode_id = "{self.id}"\nloops = 1\n'
                    f'data_dir = "{self.data_dir}"\nstore = "{self.dep.store_url(self.cluster)}"\n'
                    f'scram_iterations = 4096\nlog_level = "info"\n'
                    # every test client comes from the hub's one address
                    f'\n[limits]\nmax_connections_per_address = 0\n')

    def start(self):
        self.write_config()
        self._log = open(self.log_path, "ab")
        # `ip netns exec` execs xmeshd in place: proc.pid is xmeshd's PID.
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", self.dep.lab.ns(self.id), XMESHD, "--config", self.config_path,
             "--topology", self.dep.topology, "--node", self.id],
            stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=self.dep.dir,
            env=self.dep.lab.env, preexec_fn=_die_with_us)

    def wait_ready(self, timeout: float = 20.0):
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.id} exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                socket.create_connection((self.address, C2S_PORT), timeout=0.5).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{self.id} not ready after {timeout}s:\n{self.log_tail()}")
                time.sleep(0.05)

    def stop(self):
        stop_pid(self.proc)
        if self._log:
            self._log.close()
            self._log = None

    def log_tail(self, n: int = 40) -> str:
        return tail(self.log_path, n)

    def http_get(self, path: str) -> str:
        with urllib.request.urlopen(f"http://{self.address}:{ADMIN_PORT}{path}", timeout=3) as r:
            return r.read().decode()

    def status(self) -> dict:
        return json.loads(self.http_get("/status"))

    def srm(self) -> dict:
        return self.status()["srm"]

    def srm_from_inside(self) -> dict:
        """/status asked on the node's own host: works while its link is down."""
        with self.dep.lab.inside(self.id):
            return self.srm()

    def metrics(self) -> Dict[str, float]:
        return parse_metrics(self.http_get("/metrics"))


class Deployment:
    """Two clusters, one HA pair each: c1 = n1 + n2, c2 = n3 + n4, one database per
    cluster on the db host. `tag` names this deployment's databases and folder."""

    CLUSTERS = {"c1": ("n1", "n2"), "c2": ("n3", "n4")}

    def __init__(self, lab: Lab, pg: Postgres, tag: str, topology: str, populations: Dict[str, str]):
        self.lab, self.pg, self.tag = lab, pg, tag
        self.topology = topology
        self.dir = os.path.join(lab.tmp, tag)
        os.makedirs(self.dir)
        self.databases = {c: f"xmesh_{c}_{tag}" for c in self.CLUSTERS}
        self.nodes: List[Node] = []
        for c, ids in self.CLUSTERS.items():
            for i in ids:
                self.nodes.append(Node(self, i, c, node_address(i)))
        self.by_id = {n.id: n for n in self.nodes}
        self.populations = populations
        self.clients: List[RawClient] = []

    def store_url(self, cluster: str) -> str:
        return self.pg.url(self.databases[cluster])

    def provision(self):
        for c, db in self.databases.items():
            self.pg.admin("createdb", "-O", PG_USER, "-T", "template0", db)
            out = self.ctl("--db", self.store_url(c), "import", self.populations[c])
            if "with a home node" not in out:
                raise RuntimeError(f"import into {db}: {out}")

    def ctl(self, *args: str, check: bool = True) -> str:
        """xmeshctl on the hub host (it reaches the database and every admin port)."""
        r = run([XMESHCTL, *args], timeout=60, check=check, env=self.lab.env, cwd=self.dir)
        return r.stdout + r.stderr

    def start(self, timeout: float = 30.0):
        for n in self.nodes:
            n.start()
        for n in self.nodes:
            n.wait_ready()
        self.wait_mesh(timeout)
        for n in self.nodes:
            wait_for(lambda n=n: n.srm()["state_slug"] == "normal", 10, f"{n.id} Normal")

    def wait_mesh(self, timeout: float = 30.0):
        """Every r2r link of every node established, every directory sync complete."""
        def ready():
            for n in self.nodes:
                st = n.status()["mesh"]
                down = [l["peer"] for l in st["links"] if l["state"] != "established"]
                if down or not st["directory_complete"]:
                    return None
            return True
        try:
            wait_for(ready, timeout, "mesh up")
        except AssertionError as e:
            raise AssertionError(f"{e}\n" + "\n".join(f"--- {n.id}\n{n.log_tail(15)}" for n in self.nodes))

    def login(self, user: str, node: str, resource: str = "r", timeout: float = 10.0) -> RawClient:
        n = self.by_id[node]
        c = RawClient(C2S_PORT, host=n.address, timeout=timeout)
        self.clients.append(c)
        c.login(user, password(user), resource=resource)
        return c

    def close(self):
        for c in self.clients:
            c.close()
        for n in self.nodes:
            n.stop()
        if self.pg.proc is not None and self.pg.proc.poll() is None:
            for db in self.databases.values():
                try:
                    self.pg.admin("dropdb", "--if-exists", "--force", db)
                except (RuntimeError, subprocess.TimeoutExpired):
                    pass


def node_address(node: str) -> str:
    return f"{SUBNET}.{10 + int(node[1:])}"


def password(user: str) -> str:
    return f"pw-{user}"  # xmesh-loadgen gen-population's default --password 'pw-{user}'


def topology_toml(srm: str) -> str:
    out = [f'domain = "{DOMAIN}"', 'assignment = "balanced"', "", "[srm]", srm, "",
           "[security]", "secure = true", 'ca_file = "certs/ca.pem"', 'cert_file = "certs/{node}.pem"',
           'key_file = "certs/{node}.key"', ""]
    for c, ids in Deployment.CLUSTERS.items():
        out += ["[[clusters]]", f'id = "{c}"', ""]
        for i in ids:
            out += ["  [[clusters.nodes]]", f'  id = "{i}"', f'  host = "{node_address(i)}"',
                    f"  c2s_port = {C2S_PORT}", f"  r2r_port = {R2R_PORT}", f"  admin_port = {ADMIN_PORT}", ""]
        out += ["  [[clusters.groups]]", f'  id = "{c}-prg"', f"  nodes = [{', '.join(repr(i) for i in ids)}]"
                .replace("'", '"'), ""]
    return "\n".join(out)
