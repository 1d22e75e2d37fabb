"""Many TLS handshakes at once, from one or two threads, each on non-blocking sockets.

Each of one or two threads drives its share of the connections through one poller
(:mod:`exporter.probe.poller`), so two such threads keep both cores of a small VM
busy with OpenSSL's work (why not a thread per handshake: benchmarks/README.md,
"Design history"). Jobs can be added while the first ones run, so handshakes
start as soon as their names resolve.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence

from exporter.probe.jobqueue import JobQueue
from exporter.probe.poller import Driver, Handshake, HandshakeEnd
from exporter.probe.results import TlsResult
from exporter.probe.tls import TlsClient

__all__ = [
    "MAX_THREADS",
    "Handshake",
    "HandshakeEnd",
    "HandshakeRun",
    "probe_tls",
    "run_handshakes",
]

# Threads that drive handshakes: two keep both cores of a small VM busy with
# OpenSSL's work; more only contend for the GIL (benchmarks/README.md).
MAX_THREADS = 2


def run_handshakes(
    jobs: Sequence[Handshake], timeout: float, client: TlsClient, slots: int
) -> list[HandshakeEnd]:
    """Handshake with every job, at most ``slots`` at once; results in job order.
    The calling thread drives a share of them itself.

    A result is an Exception only when the engine itself failed for that job (a
    bug, or the OS out of resources beyond what TlsResult can say); the caller
    turns it into data.
    """
    run = HandshakeRun(timeout, client, slots, caller_drives=True)
    run.add(jobs)
    return run.finish()


class HandshakeRun:
    """Handshakes that start while more are still being added: :meth:`add` jobs as
    their names resolve, then :meth:`finish` for every result in the order added.

    With ``caller_drives`` the thread that calls :meth:`finish` drives one share of
    the slots itself (so one slot needs no thread at all); otherwise every share
    has its own thread from the first :meth:`add`, so handshakes run while the
    caller is still adding.
    """

    def __init__(
        self, timeout: float, client: TlsClient, slots: int, caller_drives: bool = False
    ) -> None:
        slots = max(1, slots)
        threads = max(1, min(MAX_THREADS, _usable_cpus(), slots))
        shares = [slots // threads + (i < slots % threads) for i in range(threads)]
        self._jobs: list[Handshake] = []
        self._results: list[HandshakeEnd | None] = []
        self._queue = JobQueue()
        self._timeout, self._client = timeout, client
        self._own_share = shares.pop(0) if caller_drives else 0
        self._threads = [
            threading.Thread(
                target=self._drive, args=(share,), name="probe-handshakes", daemon=True
            )
            for share in shares
        ]
        self._started = False

    def _drive(self, share: int) -> None:
        Driver(self._jobs, self._timeout, self._client, share, self._queue, self._results).run()

    def add(self, jobs: Sequence[Handshake]) -> None:
        if not jobs:
            return
        # Grow the lists before the drivers may take the new indices.
        self._jobs.extend(jobs)
        self._results.extend([None] * len(jobs))
        self._queue.put(len(jobs))
        if not self._started:
            self._started = True
            for thread in self._threads:
                thread.start()

    def abort(self) -> None:
        """Start nothing more; what is in flight ends on its own deadline."""
        self._queue.stop()

    def finish(self) -> list[HandshakeEnd]:
        self._queue.close()
        try:
            if self._own_share:
                self._drive(self._own_share)
            if self._started:
                for thread in self._threads:
                    thread.join()
        except BaseException:  # an interrupt (the check's global timeout), here or in a join
            self.abort()
            raise
        return [
            r if r is not None else RuntimeError("the handshake engine stopped before this probe")
            for r in self._results
        ]


def _usable_cpus() -> int:
    """CPUs this process may run on (a cpuset or taskset counts), else all of them."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1  # pragma: no cover - Linux has sched_getaffinity


def probe_tls(
    address: str, port: int, sni: str | None, timeout: float, client: TlsClient
) -> TlsResult:
    """One handshake, in the calling thread: connect to ``address``, send ``sni``."""
    outcome = run_handshakes([Handshake(address, port, sni)], timeout, client, 1)[0]
    if isinstance(outcome, Exception):
        raise outcome
    return outcome
