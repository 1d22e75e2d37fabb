"""Many TLS handshakes at once, from one or two threads, each on a non-blocking socket.

The benchmark (benchmarks/README.md) showed a thread per handshake spending its CPU
handing the GIL around: sixteen blocking probe threads ask for it after every
connect and handshake, and a scrape of ``/metrics`` queued behind all of them.
Here a thread drives up to ``slots`` connections through one poller instead: it
holds the GIL only to move a connection on, and OpenSSL's work inside
``do_handshake`` (key exchange, signature check) still runs outside it, so two
such threads keep both cores busy. Deadlines are the poller's timeout; nothing
blocks, so a peer that trickles a byte a second ends on time like a silent one.

A connection goes: connect (wait to be writable) -> handshake steps (wait for what
OpenSSL asks) -> done, with one deadline from its start covering both.
"""

from __future__ import annotations

import errno
import heapq
import os
import select
import socket
import ssl
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from exporter.probe.tls import TlsReason, TlsResult, os_reason, peer_chain, ssl_detail, ssl_reason

# Threads that drive handshakes: two keep both cores of a small VM busy with
# OpenSSL's work; more only contend for the GIL (benchmarks/README.md).
MAX_THREADS = 2

_READ, _WRITE = select.POLLIN, select.POLLOUT  # the same bits for epoll
_IN_PROGRESS = {errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EAGAIN}


@dataclass(frozen=True)
class Handshake:
    """One connection to make: ``address`` is an IP literal; ``sni`` None sends none."""

    address: str
    port: int
    sni: str | None


class _Connection:
    __slots__ = ("index", "job", "sock", "start", "tls")

    def __init__(self, index: int, job: Handshake, sock: socket.socket, start: float) -> None:
        self.index, self.job, self.sock, self.start = index, job, sock, start
        self.tls: Any = None  # the C object (_ssl._SSLSocket) once connected


Outcome = TlsResult | Exception


def run_handshakes(
    jobs: Sequence[Handshake], timeout: float, context: ssl.SSLContext, slots: int
) -> list[Outcome]:
    """Handshake with every job, at most ``slots`` at once; results in job order.

    A result is an Exception only when the engine itself failed for that job (a
    bug, or the OS out of resources beyond what TlsResult can say); the caller
    turns it into data.
    """
    results: list[Outcome | None] = [None] * len(jobs)
    if not jobs:
        return []
    slots = max(1, min(slots, len(jobs)))
    threads = max(1, min(MAX_THREADS, _usable_cpus(), slots))
    queue = _Queue(len(jobs))
    shares = [slots // threads + (i < slots % threads) for i in range(threads)]

    def drive(share: int) -> None:
        _Driver(jobs, timeout, context, share, queue, results).run()

    helpers = [
        threading.Thread(target=drive, args=(share,), name="probe-handshakes", daemon=True)
        for share in shares[1:]
    ]
    for helper in helpers:
        helper.start()
    try:
        drive(shares[0])
    except BaseException:  # an interrupt (the check's global timeout): start nothing more
        queue.close()
        raise
    for helper in helpers:
        helper.join()
    return [
        r if r is not None else RuntimeError("the handshake engine stopped before this probe")
        for r in results
    ]


def _usable_cpus() -> int:
    """CPUs this process may run on (a cpuset or taskset counts), else all of them."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1  # pragma: no cover - Linux has sched_getaffinity


class _Queue:
    """Hands out job indices to the drivers, in order."""

    def __init__(self, count: int) -> None:
        self._next = iter(range(count))
        self._lock = threading.Lock()

    def take(self) -> int | None:
        with self._lock:
            return next(self._next, None)

    def close(self) -> None:
        with self._lock:
            self._next = iter(())


class _Driver:
    """One thread's poller and its connections."""

    def __init__(
        self,
        jobs: Sequence[Handshake],
        timeout: float,
        context: ssl.SSLContext,
        slots: int,
        queue: _Queue,
        results: list[Outcome | None],
    ) -> None:
        self.jobs, self.timeout, self.context = jobs, timeout, context
        self.slots, self.queue, self.results = slots, queue, results
        self.poller = _Poller()
        self.deadlines: list[tuple[float, int, _Connection]] = []  # deadline, index
        self.live: dict[int, _Connection] = {}  # by file descriptor

    def run(self) -> None:
        try:
            self._loop()
        except Exception as exc:  # noqa: BLE001 - every job in flight gets the error as data
            for conn in self.live.values():
                self.results[conn.index] = exc
        finally:  # also on an interrupt (the check's global timeout)
            for conn in self.live.values():
                conn.sock.close()
            self.poller.close()

    def _loop(self) -> None:
        for _ in range(self.slots):
            self._start_next()
        while self.live:
            now = time.monotonic()
            while self.deadlines and self.deadlines[0][0] <= now:
                _, _, conn = heapq.heappop(self.deadlines)
                if conn.sock.fileno() != -1:
                    self._expire(conn)
            if not self.live:
                break
            live = self.live
            for fd, _events in self.poller.poll(self.deadlines[0][0] - now):
                self._advance(live[fd])

    def _start_next(self) -> None:
        """Start jobs until one is in flight (or none is left)."""
        while (index := self.queue.take()) is not None:
            if self._start(index, self.jobs[index]):
                return

    def _start(self, index: int, job: Handshake) -> bool:
        start = time.monotonic()
        try:
            family = socket.AF_INET6 if ":" in job.address else socket.AF_INET
            sock = socket.socket(family, socket.SOCK_STREAM)
        except OSError as exc:
            self.results[index] = _result(job, start, os_reason(exc), exc.strerror or str(exc))
            return False
        conn = _Connection(index, job, sock, start)
        try:
            sock.setblocking(False)
            code = sock.connect_ex((job.address, job.port))
        except Exception as exc:  # noqa: BLE001 - e.g. an address the OS cannot parse
            self._finish(conn, exc, registered=False)
            return False
        if code and code not in _IN_PROGRESS:
            self._end(conn, os_reason(OSError(code, "")), os.strerror(code), registered=False)
            return False
        heapq.heappush(self.deadlines, (start + self.timeout, index, conn))
        fd = sock.fileno()
        self.poller.register(fd, _WRITE)
        self.live[fd] = conn
        return True

    def _advance(self, conn: _Connection) -> None:
        """Move a connection on after its socket became ready."""
        try:
            if conn.tls is None:
                code = conn.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if code:
                    raise OSError(code, os.strerror(code))
                try:
                    conn.tls = self.context._wrap_socket(  # type: ignore[attr-defined]
                        conn.sock, False, conn.job.sni
                    )
                except (ValueError, TypeError) as exc:  # an SNI the ssl module refuses
                    self._end(conn, TlsReason.HANDSHAKE_FAILED, str(exc))
                    return
            conn.tls.do_handshake()
        except ssl.SSLWantReadError:
            self.poller.modify(conn.sock.fileno(), _READ)
        except ssl.SSLWantWriteError:
            self.poller.modify(conn.sock.fileno(), _WRITE)
        except ssl.SSLError as exc:
            self._end(conn, ssl_reason(exc), ssl_detail(exc))
        except OSError as exc:
            self._end(conn, os_reason(exc), exc.strerror or str(exc))
        except Exception as exc:  # noqa: BLE001 - becomes this probe's internal error
            self._finish(conn, exc)
        else:
            chain = peer_chain(conn.tls)
            if not chain:
                self._end(conn, TlsReason.NO_CERTIFICATE, "the server presented no certificate")
                return
            cipher = conn.tls.cipher()
            job = conn.job
            result = TlsResult(
                job.address,
                job.port,
                job.sni,
                TlsReason.OK,
                chain,
                conn.tls.version(),
                cipher[0] if cipher else None,
                None,
                time.monotonic() - conn.start,
            )
            self._finish(conn, result)

    def _expire(self, conn: _Connection) -> None:
        what = "TLS handshake not finished" if conn.tls is not None else "no TCP connection"
        self._end(conn, TlsReason.TIMEOUT, f"{what} within {self.timeout:g}s")

    def _end(
        self, conn: _Connection, reason: TlsReason, detail: str, registered: bool = True
    ) -> None:
        self._finish(conn, _result(conn.job, conn.start, reason, detail), registered)

    def _finish(self, conn: _Connection, outcome: Outcome, registered: bool = True) -> None:
        """Record the outcome and close; a connection that was in flight frees a slot."""
        self.results[conn.index] = outcome
        conn.tls = None
        if registered:
            fd = conn.sock.fileno()
            self.poller.unregister(fd)
            del self.live[fd]
            conn.sock.close()  # its deadline entry is skipped once closed
            self._start_next()
        else:
            conn.sock.close()


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


def _result(job: Handshake, start: float, reason: TlsReason, detail: str) -> TlsResult:
    return TlsResult(
        job.address, job.port, job.sni, reason, detail=detail, duration=time.monotonic() - start
    )


def probe_tls(
    address: str, port: int, sni: str | None, timeout: float, context: ssl.SSLContext
) -> TlsResult:
    """One handshake, in the calling thread: connect to ``address``, send ``sni``."""
    outcome = run_handshakes([Handshake(address, port, sni)], timeout, context, 1)[0]
    if isinstance(outcome, Exception):
        raise outcome
    return outcome
