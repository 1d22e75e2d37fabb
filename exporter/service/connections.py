"""The connections of ``serve``, bounded before they cost a thread (issue #23). One
thread accepts every connection, runs its TLS handshake and reads its request head
on non-blocking sockets (``selectors``); only a whole head goes to a worker thread,
which answers it and hands the connection back for its next request. A trickler
costs a descriptor and a few bytes, never a thread.

- ``max_connections`` (``--web.max-connections``): connections open at once,
  waiting or being answered. At the cap a new connection is accepted and the one
  that has waited longest for its request head is closed (a trickler, or an idle
  keep-alive connection, whose client opens another): a scrape that sends its
  request at once is served however many tricklers there are, unless the cap's
  worth of connections arrive while it sends, which is a connection flood. Only
  when every connection is being answered is the new one closed at once; none is
  left in the kernel's backlog, where a scrape would queue behind tricklers.
- ``read_header_timeout`` (``--web.read-header-timeout``): the TLS handshake and the
  whole request head must arrive within it of the accept (on a kept-alive
  connection, of the next request's first byte), as with Go's
  ``http.Server.ReadHeaderTimeout``; trickled bytes do not extend it.

The module is long because it is one state machine (accept, handshake, head,
answered, idle, closed) whose transitions read best side by side.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import queue
import selectors
import socket
import socketserver
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

DEFAULT_MAX_CONNECTIONS = 512  # Prometheus's own --web.max-connections default
DEFAULT_READ_HEADER_TIMEOUT = 5.0
# A kept-alive connection waits this long for its next request (as the handler's
# socket timeout let it before); it holds no thread meanwhile.
IDLE_TIMEOUT = 30.0
WRITE_TIMEOUT = 30.0  # a worker gives up on a client that does not read its response
MAX_HEAD = 64 * 1024  # http.server's own limit for one line
READ_CHUNK = 16 * 1024
ACCEPT_BATCH = 64  # accepts per wake-up: the waiting connections are read in between
SWEEP = 0.05  # how often deadlines are checked
WORKER_IDLE = 60.0  # an idle worker thread ends after this
_OUT_OF_DESCRIPTORS = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)
_TOO_LARGE = b"HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\n\r\n"
_LISTENER, _WAKE = "listener", "wake"


@dataclass(frozen=True)
class ConnectionLimits:
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    read_header_timeout: float = DEFAULT_READ_HEADER_TIMEOUT


@dataclass(eq=False)
class Connection:
    """One client connection. Attributes: ``buffer``, bytes read past the last head
    (a pipelined request); ``idle``, a kept-alive connection waiting for its next
    request (``deadline`` is then IDLE_TIMEOUT's, not the header deadline)."""

    sock: socket.socket
    address: tuple[str, int]
    deadline: float
    handshaking: bool = False
    idle: bool = False
    buffer: bytearray = field(default_factory=bytearray)
    scanned: int = 0  # how much of ``buffer`` is known to hold no head's end
    events: int = selectors.EVENT_READ


def head_end(buffer: bytearray, start: int = 0) -> int:
    """Where the request head in ``buffer`` ends (after its blank line), or 0. The
    search starts near ``start``, so a head read a byte at a time is scanned once."""
    start = max(0, start - 3)
    ends = [i + len(m) for m in (b"\r\n\r\n", b"\n\n") if (i := buffer.find(m, start)) >= 0]
    return min(ends, default=0)


class _Workers:
    """Threads for whole requests: an idle one is reused, else one is started."""

    def __init__(self, run: Callable[[Any], None]) -> None:
        self._run, self._jobs, self._lock = run, queue.SimpleQueue[Any](), threading.Lock()
        self._idle = 0  # threads waiting for a job, less the jobs queued for them

    def submit(self, job: Any) -> None:
        with self._lock:
            claimed = self._idle > 0
            self._idle -= 1 if claimed else 0
        if claimed:
            self._jobs.put(job)
        else:
            threading.Thread(target=self._work, args=(job,), daemon=True).start()

    def _work(self, job: Any) -> None:
        while True:
            self._run(job)
            with self._lock:
                self._idle += 1
            try:
                job = self._jobs.get(timeout=WORKER_IDLE)
            except queue.Empty:
                with self._lock:
                    if self._idle > 0:  # no job is on its way to this thread
                        self._idle -= 1
                        return
                job = self._jobs.get()


class ConnectionServer(socketserver.BaseServer):
    """A listener whose connections are bounded by ``limits``; a subclass answers
    each request head in ``serve_request``. A ``socketserver.BaseServer`` for
    http.server's handlers to take as their server; it runs its own loop."""

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[socketserver.BaseRequestHandler],
        logger: logging.Logger,
        tls: ssl.SSLContext | None = None,
        limits: ConnectionLimits | None = None,
    ) -> None:
        super().__init__(address, handler)
        self.logger, self.tls, self.limits = logger, tls, limits or ConnectionLimits()
        family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.socket = socket.create_server(address, family=family, backlog=socket.SOMAXCONN)
        self.socket.setblocking(False)
        host, port = self.socket.getsockname()[:2]
        self.server_address, self.server_port = (host, port), port
        self._selector = selectors.DefaultSelector()
        self._selector.register(self.socket, selectors.EVENT_READ, _LISTENER)
        self._wake_r, self._wake_w = socket.socketpair()
        for sock in (self._wake_r, self._wake_w):
            sock.setblocking(False)
        self._selector.register(self._wake_r, selectors.EVENT_READ, _WAKE)
        self._waiting: dict[Connection, None] = {}  # in the order they began to wait
        self._returned: deque[tuple[Connection, bool]] = deque()  # from the workers
        self._open, self._stopping = 0, False
        self._paused_until = self._next_sweep = 0.0
        self._stopped = threading.Event()
        self._stopped.set()
        self._workers = _Workers(self._answer)

    def serve_request(self, conn: Connection, head: bytes) -> bool:
        """Answer ``head`` on ``conn`` (blocking, with a timeout); True to keep it open."""
        raise NotImplementedError

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        self._stopped.clear()
        try:
            while not self._stopping:
                for key, _ in self._selector.select(min(poll_interval, SWEEP)):
                    self._on_ready(key.data)
                self._sweep(time.monotonic())
        finally:
            for conn in list(self._waiting):
                self._close(conn)
            self._stopping = False
            self._stopped.set()

    def shutdown(self) -> None:
        self._stopping = True
        self._wake()
        self._stopped.wait()

    def server_close(self) -> None:
        for conn, _ in list(self._returned):
            conn.sock.close()
        self._selector.close()
        for sock in (self.socket, self._wake_r, self._wake_w):
            sock.close()

    def _on_ready(self, what: object) -> None:
        try:
            if what is _LISTENER:
                self._accept()
            elif what is _WAKE:
                self._take_returned()
            elif isinstance(what, Connection) and what in self._waiting:  # not closed just now
                self._advance(what)
        except Exception as exc:  # noqa: BLE001 - one connection's bug must not stop the server
            self.logger.error("http connection loop", extra={"fields": {"error": repr(exc)}})
            if isinstance(what, Connection):
                with contextlib.suppress(Exception):
                    self._close(what)

    def _accept(self) -> None:
        for _ in range(ACCEPT_BATCH):
            try:
                sock, address = self.socket.accept()
            except BlockingIOError:
                return
            except OSError as exc:
                if exc.errno not in _OUT_OF_DESCRIPTORS:
                    continue  # the client gave up already (ECONNABORTED)
                if not self._waiting:  # every descriptor is being answered: pause
                    self._selector.unregister(self.socket)
                    self._paused_until = time.monotonic() + 0.1
                    return
                self._close(next(iter(self._waiting)))
                continue
            if self._open >= self.limits.max_connections:
                if not self._waiting:
                    sock.close()
                    continue
                self._close(next(iter(self._waiting)))  # the one waiting longest
            self._start(sock, address)

    def _start(self, sock: socket.socket, address: tuple[str, int]) -> None:
        deadline = time.monotonic() + self.limits.read_header_timeout
        try:
            sock.setblocking(False)
            # A response goes out as headers, then its parts: without TCP_NODELAY,
            # Nagle holds a part back until the client's delayed ACK, 40 ms later.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.tls is not None:
                sock = self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        except OSError:
            sock.close()
            return
        conn = Connection(sock, address, deadline, handshaking=self.tls is not None)
        self._open += 1
        self._selector.register(sock, selectors.EVENT_READ, conn)
        self._waiting[conn] = None
        self._advance(conn)  # a plain request is often here already

    def _advance(self, conn: Connection) -> None:
        """Move ``conn`` on with what has arrived: handshake, then read up to a head."""
        try:
            if conn.handshaking:
                conn.sock.do_handshake()  # type: ignore[attr-defined]
                conn.handshaking = False
            while not (end := head_end(conn.buffer, conn.scanned)):
                if len(conn.buffer) > MAX_HEAD:
                    with contextlib.suppress(OSError):
                        conn.sock.send(_TOO_LARGE)  # best effort: it fits any socket buffer
                    return self._close(conn)
                conn.scanned = len(conn.buffer)
                data = conn.sock.recv(READ_CHUNK)
                if not data:
                    return self._close(conn)
                if conn.idle:  # the next request's first byte starts its header deadline
                    conn.idle = False
                    conn.deadline = time.monotonic() + self.limits.read_header_timeout
                conn.buffer += data if conn.buffer else data.lstrip(b"\r\n")
        except (BlockingIOError, ssl.SSLWantReadError):
            return self._want(conn, selectors.EVENT_READ)
        except ssl.SSLWantWriteError:
            return self._want(conn, selectors.EVENT_WRITE)
        except OSError:  # ssl.SSLError too: a failed handshake, a reset
            return self._close(conn)
        head = bytes(conn.buffer[:end])
        del conn.buffer[:end]
        conn.scanned = 0
        del self._waiting[conn]
        self._selector.unregister(conn.sock)
        conn.sock.settimeout(WRITE_TIMEOUT)
        try:
            self._workers.submit((conn, head))
        except RuntimeError:  # no thread to be had: close it rather than wait for one
            self._returned.append((conn, False))
            self._wake()

    def _want(self, conn: Connection, events: int) -> None:
        if conn.events != events:
            conn.events = events
            self._selector.modify(conn.sock, events, conn)

    def _answer(self, job: tuple[Connection, bytes]) -> None:
        """In a worker thread: answer one head, then hand the connection back."""
        conn, head = job
        keep = False
        try:
            keep = self.serve_request(conn, head)
        except Exception:  # noqa: BLE001 - a client's failure ends its connection, not the thread
            self.logger.debug("http connection error", extra={"fields": {"client": conn.address}})
        self._returned.append((conn, keep))
        self._wake()

    def _take_returned(self) -> None:
        with contextlib.suppress(BlockingIOError):
            while self._wake_r.recv(4096):
                pass
        while self._returned:
            conn, keep = self._returned.popleft()
            if not keep or self._stopping:
                self._open -= 1
                with contextlib.suppress(OSError):
                    conn.sock.shutdown(socket.SHUT_WR)
                conn.sock.close()
                continue
            conn.sock.setblocking(False)
            conn.idle, now = not conn.buffer, time.monotonic()
            conn.deadline = now + (IDLE_TIMEOUT if conn.idle else self.limits.read_header_timeout)
            conn.events = selectors.EVENT_READ
            self._selector.register(conn.sock, conn.events, conn)
            self._waiting[conn] = None
            self._advance(conn)  # a pipelined request may be whole already

    def _sweep(self, now: float) -> None:
        if now < self._next_sweep:
            return
        self._next_sweep = now + SWEEP
        for conn in [conn for conn in self._waiting if conn.deadline <= now]:
            self._close(conn)
        if self._paused_until and now >= self._paused_until:
            self._paused_until = 0.0
            self._selector.register(self.socket, selectors.EVENT_READ, _LISTENER)

    def _close(self, conn: Connection) -> None:
        """Close a connection that waits in the loop."""
        if self._waiting.pop(conn, False) is None:
            self._selector.unregister(conn.sock)
            conn.sock.close()
            self._open -= 1

    def _wake(self) -> None:
        with contextlib.suppress(OSError):  # BlockingIOError: a wake-up is pending already
            self._wake_w.send(b"\0")
