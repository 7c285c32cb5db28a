"""TCP relays on loopback for end-to-end tests: a node's peers dial the relay (the
topology names it as the node's r2r endpoint), the relay dials the node. What happens to
the bytes on the way is the subclass's business:

    Relay         copies both ways
    CuttableRelay cut() holds the bytes both ways (a partition: nothing is closed), heal()
    OneWayHold    hold_from('n11') holds, forever, what n11 writes (plain r2r only: the
                  sender is recognized by its stream header); the other way flows

Every connection gets one thread per direction; close() stops accepting.
"""
import re
import socket
import threading
import time


def shut(*socks):
    for s in socks:
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        s.close()


class Relay:
    def __init__(self, listen: tuple, target: tuple):
        self.target = target
        self.stop = threading.Event()
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(listen)
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self):
        self.stop.set()
        self.sock.close()

    def _accept(self):
        while not self.stop.is_set():
            try:
                a, _ = self.sock.accept()
            except OSError:
                continue
            try:
                b = socket.create_connection(self.target, timeout=5)
            except OSError:
                a.close()
                continue
            threading.Thread(target=self.pipe, args=(a, b, True), daemon=True).start()
            threading.Thread(target=self.pipe, args=(b, a, False), daemon=True).start()

    def pipe(self, src, dst, from_dialer: bool):
        """Copies src to dst until either ends; hold() may keep each chunk back."""
        state = {}
        while not self.stop.is_set():
            try:
                data = src.recv(65536)
            except OSError:
                data = b""
            if not data:
                break
            self.hold(data, from_dialer, state)
            try:
                dst.sendall(data)
            except OSError:
                break
        shut(src, dst)

    def hold(self, data: bytes, from_dialer: bool, state: dict):
        """Returns when `data` may go on; `state` lives as long as the direction."""


class CuttableRelay(Relay):
    def __init__(self, listen: tuple, target: tuple):
        self.open = threading.Event()
        self.open.set()
        super().__init__(listen, target)

    def cut(self):
        self.open.clear()

    def heal(self):
        self.open.set()

    def hold(self, data, from_dialer, state):
        while not self.open.is_set() and not self.stop.is_set():
            time.sleep(0.01)


class OneWayHold(Relay):
    held = None

    def hold_from(self, node: str):
        self.held = node

    def hold(self, data, from_dialer, state):
        if not from_dialer:
            return
        if "sender" not in state:
            m = re.search(rb"from='(n\d+)'", data)
            state["sender"] = m.group(1).decode() if m else ""
        while self.held and state["sender"] == self.held and not self.stop.is_set():
            time.sleep(0.01)
