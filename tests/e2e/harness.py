"""End-to-end test harness for xmeshd: a Server process fixture and a tiny raw XMPP client.

Everything here talks to 127.0.0.1 only. Every process started is stopped by PID.

    with Server(limits={"idle_timeout_seconds": 3}) as srv:
        srv.add_user("alice", "secret")
        c = RawClient(srv.c2s_port)
        jid = c.login("alice", "secret")
        ...
        srv.metrics()['xmesh_errors_total{reason="restricted-xml"}']
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
import select
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.request
from typing import Dict, Optional, Union

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
DOMAIN = "localhost"

NS_CLIENT = "jabber:client"
NS_STREAMS = "http://etherx.jabber.org/streams"
NS_TLS = "urn:ietf:params:xml:ns:xmpp-tls"
NS_SASL = "urn:ietf:params:xml:ns:xmpp-sasl"
NS_BIND = "urn:ietf:params:xml:ns:xmpp-bind"
NS_XSTREAMS = "urn:ietf:params:xml:ns:xmpp-streams"
NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas"


def _find_binary(env: str, rel: str) -> str:
    """$XMESHD / $XMESHCTL, else the first existing build dir (build, build-me, build-e2e)."""
    if os.environ.get(env):
        return os.environ[env]
    candidates = [os.path.join(REPO, d, rel) for d in ("build", "build-me", "build-e2e")]
    for c in candidates:
        if os.path.exists(c):
            return c
    return candidates[0]


XMESHD = _find_binary("XMESHD", "router/xmeshd")
XMESHCTL = _find_binary("XMESHCTL", "ctl/xmeshctl")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'


# Tight defaults for tests; override per table with Server(limits={...}, tls={...}, ...).
DEFAULT_LIMITS = {
    "max_stanza_bytes": 65536,
    "max_stanza_bytes_pre_auth": 4096,
    "auth_failures_before_backoff": 3,
    "auth_backoff_seconds": 5,
    "pre_auth_timeout_seconds": 2,
    "tls_handshake_timeout_seconds": 2,
    "idle_timeout_seconds": 3,
    "sm_resume_timeout_seconds": 10,
}


class Server:
    """An xmeshd process on free ports in a temp dir. Use as a context manager."""

    def __init__(self, top: Optional[dict] = None, listen: Optional[dict] = None,
                 tls: Optional[dict] = None, limits: Optional[dict] = None,
                 start_timeout: float = 20.0):
        self.tmp = tempfile.mkdtemp(prefix="xmesh-e2e-")
        self.data_dir = os.path.join(self.tmp, "data")
        os.makedirs(self.data_dir)
        self.store_path = os.path.join(self.data_dir, "xmesh.db")
        self.c2s_port = free_port()
        self.admin_port = free_port()
        self.top = {"domain": DOMAIN, "node_id": "node1", "loops": 2,
                    "data_dir": self.data_dir, "store_path": self.store_path,
                    "scram_iterations": 4096, "log_level": "info"}
        self.top.update(top or {})
        self.listen = {"c2s_address": "127.0.0.1", "c2s_port": self.c2s_port,
                       "admin_address": "127.0.0.1", "admin_port": self.admin_port}
        self.listen.update(listen or {})
        self.tls = dict(tls or {})
        self.limits = dict(DEFAULT_LIMITS)
        self.limits.update(limits or {})
        self.start_timeout = start_timeout
        self.config_path = os.path.join(self.tmp, "xmeshd.toml")
        self.log_path = os.path.join(self.tmp, "xmeshd.log")
        self.proc: Optional[subprocess.Popen] = None
        self._log = None

    # -- config ---------------------------------------------------------------------------
    def toml(self) -> str:
        out = [f"{k} = {_toml_value(v)}" for k, v in self.top.items()]
        for name, table in (("listen", self.listen), ("tls", self.tls), ("limits", self.limits)):
            if table:
                out.append(f"\n[{name}]")
                out.extend(f"{k} = {_toml_value(v)}" for k, v in table.items())
        return "\n".join(out) + "\n"

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> "Server":
        with open(self.config_path, "w") as f:
            f.write(self.toml())
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([XMESHD, "--config", self.config_path],
                                     stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, cwd=self.tmp)
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"xmeshd exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                socket.create_connection(("127.0.0.1", self.c2s_port), timeout=0.5).close()
                return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"xmeshd not ready after {self.start_timeout}s:\n{self.log_tail()}")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 10.0) -> Optional[int]:
        rc = None
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(timeout=timeout)
            rc = self.proc.returncode
        if self._log:
            self._log.close()
            self._log = None
        return rc

    def cleanup(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self) -> "Server":
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        if os.environ.get("XMESH_E2E_KEEP"):
            print(f"kept {self.tmp}")
        else:
            self.cleanup()

    def log_tail(self, n: int = 60) -> str:
        try:
            with open(self.log_path, "rb") as f:
                return b"\n".join(f.read().splitlines()[-n:]).decode("utf-8", "replace")
        except OSError:
            return ""

    # -- users ----------------------------------------------------------------------------
    def add_user(self, name: str, password: str):
        r = subprocess.run([XMESHCTL, "--db", self.store_path, "user", "add", name,
                            "--password", password, "--iterations", "4096"],
                           capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise RuntimeError(f"xmeshctl user add {name} failed ({r.returncode}): {r.stderr}{r.stdout}")

    # -- admin HTTP -----------------------------------------------------------------------
    def http_get(self, path: str) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.admin_port}{path}", timeout=5) as r:
            return r.read().decode()

    def metrics(self) -> Dict[str, float]:
        return parse_metrics(self.http_get("/metrics"))

    def error_count(self, reason: str, m: Optional[Dict[str, float]] = None) -> float:
        m = m if m is not None else self.metrics()
        return m.get(f'xmesh_errors_total{{reason="{reason}"}}', 0.0)


def parse_metrics(text: str) -> Dict[str, float]:
    """Prometheus text -> {name{labels}: value}, exactly as the exposition writes the series name."""
    out: Dict[str, float] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, _, value = line.rpartition(" ")
        try:
            out[name] = float(value)
        except ValueError:
            pass
    return out


def metric_key(name: str, **labels) -> str:
    if not labels:
        return name
    return name + "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"


# ---------------------------------------------------------------------------------------
# Raw client
# ---------------------------------------------------------------------------------------

class ReadTimeout(AssertionError):
    pass


class AuthFailed(AssertionError):
    def __init__(self, condition: str, text: str = ""):
        super().__init__(f"SASL failure: {condition} {text}")
        self.condition = condition


def stream_error(text: Union[str, bytes]) -> Optional[str]:
    """The condition of the first <stream:error> in text, or None."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    m = re.search(r"<stream:error>\s*<([a-z-]+)", text)
    return m.group(1) if m else None


def stanza_error(text: str) -> Optional[str]:
    m = re.search(r"<error\b[^>]*>\s*<([a-z-]+) xmlns=['\"]" + re.escape(NS_STANZAS), text)
    return m.group(1) if m else None


def _scram_name(s: str) -> str:
    return s.replace("=", "=3D").replace(",", "=2C")


class RawClient:
    """A deliberately small XMPP client over socket+ssl, able to send anything."""

    def __init__(self, port: int, host: str = "127.0.0.1", source: Optional[str] = None,
                 timeout: float = 5.0):
        self.port, self.host, self.timeout = port, host, timeout
        self.sock = socket.create_connection(
            (host, port), timeout=timeout, source_address=(source, 0) if source else None)
        self.rx = b""       # everything received (on the current TLS layer or not)
        self.pos = 0        # consumed up to here
        self.closed = False
        self.tls = False
        self.jid: Optional[str] = None

    # -- bytes ----------------------------------------------------------------------------
    def send(self, data: Union[str, bytes]):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def _recv_once(self, timeout: float) -> bool:
        """Reads what is there within timeout. False on timeout; sets closed on EOF/reset."""
        if self.closed:
            return False
        if not (self.tls and self.sock.pending()):
            r, _, _ = select.select([self.sock], [], [], max(0.0, timeout))
            if not r:
                return False
        try:
            self.sock.settimeout(max(0.05, timeout))
            chunk = self.sock.recv(65536)
        except (socket.timeout, ssl.SSLWantReadError):
            return False
        except (ConnectionError, ssl.SSLError, OSError):
            self.closed = True
            return True
        if not chunk:
            self.closed = True
            return True
        self.rx += chunk
        return True

    @property
    def text(self) -> str:
        return self.rx.decode("utf-8", "surrogateescape")

    def pending_text(self) -> str:
        return self.rx[self.pos:].decode("utf-8", "surrogateescape")

    def read_until(self, pattern: Union[str, "re.Pattern"], timeout: Optional[float] = None,
                   consume: bool = True) -> "re.Match":
        """Waits until the regex matches the unconsumed input. Raises ReadTimeout."""
        rx = re.compile(pattern, re.S) if isinstance(pattern, str) else pattern
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            m = rx.search(self.pending_text())
            if m:
                if consume:
                    self.pos += len(self.pending_text()[:m.end()].encode("utf-8", "surrogateescape"))
                return m
            left = deadline - time.monotonic()
            if left <= 0 or self.closed:
                raise ReadTimeout(f"pattern {rx.pattern!r} not seen "
                                  f"({'closed' if self.closed else 'timeout'}); got: {self.pending_text()[-2000:]!r}")
            self._recv_once(min(left, 0.5))

    def collect(self, duration: float) -> str:
        """Reads for `duration` seconds (or until closed); returns the unconsumed text."""
        deadline = time.monotonic() + duration
        while not self.closed and time.monotonic() < deadline:
            self._recv_once(deadline - time.monotonic())
        return self.pending_text()

    def wait_closed(self, timeout: float) -> bool:
        """True if the peer closed (EOF or reset) within timeout."""
        deadline = time.monotonic() + timeout
        while not self.closed and time.monotonic() < deadline:
            self._recv_once(deadline - time.monotonic())
        return self.closed

    def expect_stream_error(self, timeout: Optional[float] = None) -> str:
        """Waits for <stream:error>...</stream:stream>; returns the condition."""
        self.read_until(r"<stream:error>.*?</stream:error>", timeout)
        cond = stream_error(self.text)
        return cond

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
        self.closed = True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- XMPP -----------------------------------------------------------------------------
    @staticmethod
    def stream_header(to: str = DOMAIN, ns: str = NS_CLIENT, stream_ns: str = NS_STREAMS,
                      version: str = "1.0", xml_decl: bool = True) -> str:
        h = "<?xml version='1.0'?>" if xml_decl else ""
        h += (f"<stream:stream xmlns='{ns}' xmlns:stream='{stream_ns}' to='{to}' "
              f"version='{version}' xml:lang='en'>")
        return h

    def stream_open(self, **kw) -> str:
        """Opens a stream and returns the <stream:features> text."""
        self.send(self.stream_header(**kw))
        m = self.read_until(r"<stream:features\b.*?</stream:features>|<stream:features/>|<stream:error>.*?</stream:error>")
        if m.group(0).startswith("<stream:error"):
            raise AssertionError(f"stream error on open: {m.group(0)}")
        return m.group(0)

    def starttls(self):
        self.send(f"<starttls xmlns='{NS_TLS}'/>")
        self.read_until(r"<proceed\b[^>]*/>")
        self.wrap_tls()

    def wrap_tls(self):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        self.sock.settimeout(self.timeout)
        self.sock = ctx.wrap_socket(self.sock, server_hostname=DOMAIN)
        self.tls = True
        self.rx, self.pos = b"", 0

    def _sasl_result(self) -> str:
        m = self.read_until(r"<success\b[^>]*/>|<success\b.*?</success>|<failure\b.*?</failure>|"
                            r"<challenge\b.*?</challenge>|<stream:error>.*?</stream:error>")
        return m.group(0)

    @staticmethod
    def _failure_condition(el: str) -> str:
        if el.startswith("<stream:error"):
            return "stream:" + (stream_error(el) or "?")
        m = re.search(r"<failure[^>]*>\s*<([a-z-]+)", el)
        return m.group(1) if m else "?"

    def plain_auth(self, user: str, password: str, authzid: str = "") -> str:
        """Returns 'success' or the failure condition ('not-authorized', ...)."""
        payload = base64.b64encode(f"{authzid}\0{user}\0{password}".encode()).decode()
        self.send(f"<auth xmlns='{NS_SASL}' mechanism='PLAIN'>{payload}</auth>")
        el = self._sasl_result()
        return "success" if el.startswith("<success") else self._failure_condition(el)

    def scram_auth(self, user: str, password: str, mech: str = "SCRAM-SHA-256") -> str:
        """RFC 5802 client. Returns 'success' or the failure condition."""
        hname = {"SCRAM-SHA-1": "sha1", "SCRAM-SHA-256": "sha256"}[mech]
        cnonce = base64.b64encode(secrets.token_bytes(18)).decode()
        gs2 = "n,,"
        first_bare = f"n={_scram_name(user)},r={cnonce}"
        self.send(f"<auth xmlns='{NS_SASL}' mechanism='{mech}'>"
                  f"{base64.b64encode((gs2 + first_bare).encode()).decode()}</auth>")
        el = self._sasl_result()
        if not el.startswith("<challenge"):
            return self._failure_condition(el)
        server_first = base64.b64decode(re.sub(r"<[^>]*>", "", el)).decode()
        attrs = dict(kv.split("=", 1) for kv in server_first.split(","))
        if not attrs["r"].startswith(cnonce):
            raise AssertionError("server nonce does not extend the client nonce")
        salt = base64.b64decode(attrs["s"])
        iterations = int(attrs["i"])
        salted = hashlib.pbkdf2_hmac(hname, password.encode(), salt, iterations)
        client_key = hmac.new(salted, b"Client Key", hname).digest()
        stored_key = hashlib.new(hname, client_key).digest()
        final_wo_proof = f"c={base64.b64encode(gs2.encode()).decode()},r={attrs['r']}"
        auth_message = f"{first_bare},{server_first},{final_wo_proof}".encode()
        client_sig = hmac.new(stored_key, auth_message, hname).digest()
        proof = bytes(a ^ b for a, b in zip(client_key, client_sig))
        final = f"{final_wo_proof},p={base64.b64encode(proof).decode()}"
        self.send(f"<response xmlns='{NS_SASL}'>{base64.b64encode(final.encode()).decode()}</response>")
        el = self._sasl_result()
        if not el.startswith("<success"):
            return self._failure_condition(el)
        server_key = hmac.new(salted, b"Server Key", hname).digest()
        expected_v = base64.b64encode(hmac.new(server_key, auth_message, hname).digest()).decode()
        data = re.sub(r"<[^>]*>", "", el)
        server_final = base64.b64decode(data).decode() if data else ""
        if server_final != f"v={expected_v}":
            raise AssertionError(f"bad SCRAM server signature: {server_final!r}")
        return "success"

    def scram_login(self, user: str, password: str, mech: str = "SCRAM-SHA-256") -> str:
        """SCRAM, then the stream restart. Returns the post-auth features."""
        r = self.scram_auth(user, password, mech)
        if r != "success":
            raise AuthFailed(r)
        return self.stream_open()

    def plain_login(self, user: str, password: str) -> str:
        r = self.plain_auth(user, password)
        if r != "success":
            raise AuthFailed(r)
        return self.stream_open()

    def bind(self, resource: Optional[str] = None) -> str:
        inner = f"<resource>{resource}</resource>" if resource else ""
        self.send(f"<iq type='set' id='bind1'><bind xmlns='{NS_BIND}'>{inner}</bind></iq>")
        m = self.read_until(r"<iq\b[^>]*id=['\"]bind1['\"].*?</iq>|<iq\b[^>]*id=['\"]bind1['\"][^>]*/>")
        j = re.search(r"<jid>([^<]+)</jid>", m.group(0))
        if not j:
            raise AssertionError(f"bind failed: {m.group(0)}")
        self.jid = j.group(1)
        return self.jid

    def login(self, user: str, password: str, mech: str = "SCRAM-SHA-256",
              resource: Optional[str] = None, bind: bool = True) -> Optional[str]:
        """Stream, STARTTLS, stream, SASL, stream, bind. Returns the bound full JID."""
        self.stream_open()
        self.starttls()
        self.stream_open()
        if mech == "PLAIN":
            self.plain_login(user, password)
        else:
            self.scram_login(user, password, mech)
        return self.bind(resource) if bind else None

    def tls_preauth(self) -> str:
        """Stream, STARTTLS, stream. Returns the features offered inside TLS."""
        self.stream_open()
        self.starttls()
        return self.stream_open()
