"""The job indices the handshake drivers take, in order, as they are added; and the
wake-up a busy driver's poller waits on (a byte on a pipe per driver), so jobs
added while connections are in flight start at once without the driver polling.
"""

from __future__ import annotations

import contextlib
import os
import threading


class JobQueue:
    """Hands out job indices to the drivers, in order, as they are added."""

    def __init__(self) -> None:
        self._ready = threading.Condition()
        self._next = self._count = 0
        self._closed = False
        self._wakers: list[int] = []  # pipes' write ends: a byte wakes a busy poller

    def subscribe(self, fd: int) -> None:
        with self._ready:
            self._wakers.append(fd)

    def unsubscribe(self, fd: int) -> None:
        with self._ready:
            self._wakers.remove(fd)

    def _wake(self) -> None:
        for fd in self._wakers:
            with contextlib.suppress(OSError):  # already woken (the pipe is full)
                os.write(fd, b"!")

    def put(self, count: int) -> None:
        with self._ready:
            self._count += count
            self._ready.notify_all()
            self._wake()

    def close(self) -> None:
        """Nothing more will be added."""
        with self._ready:
            self._closed = True
            self._ready.notify_all()
            self._wake()

    def stop(self) -> None:
        """Hand out nothing more."""
        with self._ready:
            self._count, self._closed = self._next, True
            self._ready.notify_all()
            self._wake()

    def take(self) -> int | None:
        """The next index, or None when there is none yet (or ever: see ``done``)."""
        with self._ready:
            if self._next < self._count:
                self._next += 1
                return self._next - 1
            return None

    def done(self) -> bool:
        with self._ready:
            return self._closed and self._next >= self._count

    def wait(self) -> None:
        """Until a job is added or the queue is closed."""
        with self._ready:
            while self._next >= self._count and not self._closed:
                self._ready.wait()
