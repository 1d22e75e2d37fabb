"""One thread's share of the handshakes: a poller that moves non-blocking
connections through connect, the mail protocols' STARTTLS and ``do_handshake``,
each until its deadline.

A connection goes: connect (wait to be writable) -> for ``smtp://``, ``imap://``
and ``pop3://`` the plain-text dialogue (:mod:`exporter.probe.starttls`) ->
handshake steps (wait for what OpenSSL asks) -> done, with one deadline from its
start covering all of them. The thread holds the GIL only to move a connection
on; OpenSSL's work inside ``do_handshake`` runs outside it. Deadlines are the
poller's timeout; nothing blocks, so a peer that trickles a byte a second ends on
time like a silent one. :mod:`exporter.probe.handshakes` starts the threads and
feeds them jobs.
"""

from __future__ import annotations

import contextlib
import errno
import heapq
import os
import select
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from OpenSSL import SSL

from exporter.probe.jobqueue import JobQueue
from exporter.probe.results import TlsReason, TlsResult
from exporter.probe.starttls import Dialogue
from exporter.probe.tls import TlsClient, os_reason, peer_chain, tls_failure

_READ, _WRITE = select.POLLIN, select.POLLOUT  # the same bits for epoll
_IN_PROGRESS = {errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EAGAIN}


@dataclass(frozen=True)
class Handshake:
    """One connection to make: ``address`` is an IP literal; ``sni`` None sends none;
    ``starttls`` the plain-text protocol to upgrade first (``smtp``, ``imap``,
    ``pop3``; :mod:`exporter.probe.starttls`), None to start TLS at once."""

    address: str
    port: int
    sni: str | None
    starttls: str | None = None


class _Connection:
    __slots__ = ("connected", "dialogue", "index", "job", "out", "sock", "start", "tls")

    def __init__(self, index: int, job: Handshake, sock: socket.socket, start: float) -> None:
        self.index, self.job, self.sock, self.start = index, job, sock, start
        self.connected = False
        self.dialogue: Dialogue | None = None  # while STARTTLS is being negotiated
        self.out = b""  # the dialogue's bytes not yet sent
        self.tls: SSL.Connection | None = None  # once TLS starts


HandshakeEnd = TlsResult | Exception


class Driver:
    """One thread's poller and its connections."""

    def __init__(
        self,
        jobs: Sequence[Handshake],
        timeout: float,
        client: TlsClient,
        slots: int,
        queue: JobQueue,
        results: list[HandshakeEnd | None],
    ) -> None:
        self.jobs, self.timeout, self.client = jobs, timeout, client
        self.slots, self.queue, self.results = slots, queue, results
        self.poller = _Poller()
        self.deadlines: list[tuple[float, int, _Connection]] = []  # deadline, index
        self.live: dict[int, _Connection] = {}  # by file descriptor
        # Woken by the queue when jobs are added while connections are in flight.
        self._wake_read, self._wake_write = os.pipe()
        os.set_blocking(self._wake_read, False)
        os.set_blocking(self._wake_write, False)
        self.poller.register(self._wake_read, _READ)
        queue.subscribe(self._wake_write)

    def run(self) -> None:
        try:
            self._loop()
        except Exception as exc:  # noqa: BLE001 - every job in flight gets the error as data
            for conn in self.live.values():
                self.results[conn.index] = exc
        finally:  # also on an interrupt (the check's global timeout)
            for conn in self.live.values():
                conn.sock.close()
            self.queue.unsubscribe(self._wake_write)
            self.poller.close()
            os.close(self._wake_read)
            os.close(self._wake_write)

    def _loop(self) -> None:
        queue, live = self.queue, self.live
        while True:
            self._fill()
            if not live:
                if queue.done():
                    return
                queue.wait()  # nothing in flight: sleep until jobs come
                continue
            now = time.monotonic()
            while self.deadlines and self.deadlines[0][0] <= now:
                _, _, conn = heapq.heappop(self.deadlines)
                if conn.sock.fileno() != -1:
                    self._expire(conn)
            if not live:
                continue
            # Until the next deadline, a ready socket, or the queue's wake-up (jobs
            # added while a slot is free).
            for fd, _events in self.poller.poll(self.deadlines[0][0] - now):
                if fd == self._wake_read:
                    self._drain_wake()
                else:
                    self._advance(live[fd])

    def _drain_wake(self) -> None:
        with contextlib.suppress(BlockingIOError):
            while os.read(self._wake_read, 512):
                pass

    def _fill(self) -> None:
        """Start jobs while a slot is free and a job is waiting."""
        while len(self.live) < self.slots and (index := self.queue.take()) is not None:
            self._start(index, self.jobs[index])

    def _start(self, index: int, job: Handshake) -> None:
        start = time.monotonic()
        try:
            family = socket.AF_INET6 if ":" in job.address else socket.AF_INET
            sock = socket.socket(family, socket.SOCK_STREAM)
        except OSError as exc:
            self.results[index] = _result(job, start, os_reason(exc), exc.strerror or str(exc))
            return
        conn = _Connection(index, job, sock, start)
        try:
            sock.setblocking(False)
            code = sock.connect_ex((job.address, job.port))
        except Exception as exc:  # noqa: BLE001 - e.g. an address the OS cannot parse
            self._finish(conn, exc, registered=False)
            return
        if code and code not in _IN_PROGRESS:
            self._end(conn, os_reason(OSError(code, "")), os.strerror(code), registered=False)
            return
        heapq.heappush(self.deadlines, (start + self.timeout, index, conn))
        fd = sock.fileno()
        self.poller.register(fd, _WRITE)
        self.live[fd] = conn

    def _advance(self, conn: _Connection) -> None:
        """Move a connection on after its socket became ready."""
        try:
            if not conn.connected and not self._connected(conn):
                return
            if conn.dialogue is not None and not self._converse(conn):
                return
            if conn.tls is None:
                try:
                    conn.tls = self.client.wrap(conn.sock, conn.job.sni)
                except ValueError as exc:  # an SNI no client would send
                    self._end(conn, TlsReason.HANDSHAKE_FAILED, str(exc))
                    return
            conn.tls.do_handshake()
        except SSL.WantReadError:
            self.poller.modify(conn.sock.fileno(), _READ)
        except SSL.WantWriteError:
            self.poller.modify(conn.sock.fileno(), _WRITE)
        except SSL.Error as exc:
            self._end(conn, *tls_failure(exc))
        except OSError as exc:
            self._end(conn, os_reason(exc), exc.strerror or str(exc))
        except Exception as exc:  # noqa: BLE001 - becomes this probe's internal error
            self._finish(conn, exc)
        else:
            chain = peer_chain(conn.tls)
            if not chain:
                self._end(conn, TlsReason.NO_CERTIFICATE, "the server presented no certificate")
                return
            job = conn.job
            result = TlsResult(
                job.address,
                job.port,
                job.sni,
                TlsReason.OK,
                chain,
                conn.tls.get_protocol_version_name(),
                conn.tls.get_cipher_name(),
                None,
                time.monotonic() - conn.start,
            )
            self._finish(conn, result)

    def _connected(self, conn: _Connection) -> bool:
        """The TCP connect finished (OSError when it failed); True when TLS starts
        now, False when the server speaks first (STARTTLS)."""
        code = conn.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if code:
            raise OSError(code, os.strerror(code))
        conn.connected = True
        if conn.job.starttls is None:
            return True
        conn.dialogue = Dialogue(conn.job.starttls, _helo(conn.sock))
        self.poller.modify(conn.sock.fileno(), _READ)
        return False

    def _converse(self, conn: _Connection) -> bool:
        """One step of the plain-text part; True once TLS may start. Failures end the
        connection here (OSError goes to the caller)."""
        assert conn.dialogue is not None  # noqa: S101 - only called while it runs
        if conn.out:
            self._send(conn, conn.out)
            return False
        try:
            data = conn.sock.recv(4096)
        except BlockingIOError:
            return False
        step = conn.dialogue.receive(data)
        if step.failure is not None:
            self._end(conn, *step.failure)
        elif step.send:
            self._send(conn, step.send)
        elif step.ready:
            conn.dialogue = None
            return True
        return False

    def _send(self, conn: _Connection, data: bytes) -> None:
        try:
            sent = conn.sock.send(data)
        except BlockingIOError:
            sent = 0
        conn.out = data[sent:]
        self.poller.modify(conn.sock.fileno(), _WRITE if conn.out else _READ)

    def _expire(self, conn: _Connection) -> None:
        if conn.dialogue is not None:
            what = f"{conn.dialogue.waiting_for} did not come"
        elif conn.tls is not None:
            what = "TLS handshake not finished"
        else:
            what = "no TCP connection"
        self._end(conn, TlsReason.TIMEOUT, f"{what} within {self.timeout:g}s")

    def _end(
        self, conn: _Connection, reason: TlsReason, detail: str, registered: bool = True
    ) -> None:
        self._finish(conn, _result(conn.job, conn.start, reason, detail), registered)

    def _finish(self, conn: _Connection, outcome: HandshakeEnd, registered: bool = True) -> None:
        """Record the outcome and close; a connection that was in flight frees a slot."""
        self.results[conn.index] = outcome
        conn.tls = None
        if registered:
            fd = conn.sock.fileno()
            self.poller.unregister(fd)
            del self.live[fd]
        conn.sock.close()  # its deadline entry is skipped once closed


class _Poller:
    """epoll where there is one (Linux), else poll: the same calls, in seconds."""

    def __init__(self) -> None:
        self._epoll = hasattr(select, "epoll")
        self._poll: Any = select.epoll() if self._epoll else select.poll()
        self.register = self._poll.register
        self.modify = self._poll.modify
        self.unregister = self._poll.unregister

    def poll(self, timeout: float) -> list[tuple[int, int]]:
        timeout = max(timeout, 0.0)
        result: list[tuple[int, int]] = self._poll.poll(timeout if self._epoll else timeout * 1000)
        return result

    def close(self) -> None:
        if self._epoll:
            self._poll.close()


def _helo(sock: socket.socket) -> str:
    """The SMTP client's name: its own address as a literal (RFC 5321 4.1.3), so the
    probe needs no DNS name of its own."""
    address = str(sock.getsockname()[0])
    return f"[IPv6:{address}]" if ":" in address else f"[{address}]"


def _result(job: Handshake, start: float, reason: TlsReason, detail: str) -> TlsResult:
    return TlsResult(
        job.address, job.port, job.sni, reason, detail=detail, duration=time.monotonic() - start
    )
