"""One watchdog thread that ends sockets whose deadline has passed.

A probe's socket stays blocking so that connect and the whole TLS handshake each
run as one call outside the GIL: the benchmark showed every extra wait-and-retry
(a timeout socket polls before each read) costing a GIL hand-off between the 16
probe threads, about 15% of a probe's CPU. The deadline is kept here instead: at
its deadline a socket is shut down, which wakes a blocked connect() or read with
an error, so a peer that never answers, or trickles a byte a second, still ends on
time. The probe then sees ``Guard.fired`` and reports a timeout.

Shutting down happens under the same lock as :meth:`Guard.close`, so the watchdog
never touches a descriptor after its probe has closed it (and the number has been
reused by another socket).
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import socket
import threading
import time
from types import TracebackType


class Guard:
    """One socket's deadline; a context manager that stands the guard down on exit."""

    __slots__ = ("_order", "_watchdog", "deadline", "fired", "sock")

    def __init__(
        self, watchdog: Watchdog, deadline: float, order: int, sock: socket.socket
    ) -> None:
        self.deadline = deadline
        self.fired = False
        self.sock: socket.socket | None = sock
        self._order = order
        self._watchdog = watchdog

    def __lt__(self, other: Guard) -> bool:
        return (self.deadline, self._order) < (other.deadline, other._order)

    def __enter__(self) -> Guard:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._watchdog.release(self)


class Watchdog:
    """Shuts down guarded sockets at their deadlines; one thread, started on first use."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._heap: list[Guard] = []
        self._released = 0
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def guard(self, sock: socket.socket, deadline: float) -> Guard:
        """Watch ``sock`` until the returned guard is released (leave its ``with``)."""
        with self._lock:
            entry = Guard(self, deadline, next(self._order), sock)
            heapq.heappush(self._heap, entry)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="probe-deadlines", daemon=True
                )
                self._thread.start()
            elif self._heap[0] is entry:
                self._wake.notify()  # earlier than what the thread sleeps towards
            return entry

    def release(self, entry: Guard) -> None:
        with self._lock:
            if entry.sock is None:
                return
            entry.sock = None
            self._released += 1
            # Released guards stay in the heap until they reach its top; rebuild it
            # when they are most of it, so a long timeout never hoards them.
            if self._released > 64 and self._released * 2 > len(self._heap):
                self._heap = [e for e in self._heap if e.sock is not None]
                heapq.heapify(self._heap)
                self._released = 0

    def pending(self) -> int:
        """Guards not yet released (for tests)."""
        with self._lock:
            return sum(e.sock is not None for e in self._heap)

    def _run(self) -> None:
        with self._lock:
            while True:
                now = time.monotonic()
                heap = self._heap
                while heap and (heap[0].sock is None or heap[0].deadline <= now):
                    entry = heapq.heappop(heap)
                    if entry.sock is None:
                        self._released -= 1
                        continue
                    entry.fired = True
                    # Not connected yet or already gone: the probe's error path follows.
                    with contextlib.suppress(OSError):
                        entry.sock.shutdown(socket.SHUT_RDWR)
                self._wake.wait(heap[0].deadline - now if heap else None)


WATCHDOG = Watchdog()
