"""Probing in worker processes (``probe.processes`` > 1).

One process drives its handshakes from at most two threads that share one GIL
(:mod:`exporter.probe.handshakes`); on a machine with more cores, or to keep the
serving process's GIL for scrapes, ``probe.processes: N`` deals the endpoints
round-robin to N long-lived worker processes, each probing its share with its own
handshake threads, DNS resolver and TLS client, while the serving process only
waits. Each ProbeResult comes back pickled; evaluation stays in the parent.

Workers are started with "forkserver" (never fork a process that has HTTP and
probe threads running) and kept for the life of the process. If a worker dies,
its endpoints are probed in-process that cycle and the pool is rebuilt.
"""

from __future__ import annotations

import atexit
import multiprocessing
import threading
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from exporter.model import Endpoint
from exporter.probe.dns import DnsResolver
from exporter.probe.results import DnsAnswer, ProbeResult, ProbeSettings
from exporter.probe.runner import names_to_resolve, probe_all
from exporter.probe.tls import TlsClient

_lock = threading.Lock()
_pool: ProcessPoolExecutor | None = None
_pool_size = 0


def _get_pool(size: int) -> ProcessPoolExecutor:
    global _pool, _pool_size
    with _lock:
        if _pool is None or _pool_size != size:
            if _pool is not None:
                _pool.shutdown(wait=False, cancel_futures=True)
            context = multiprocessing.get_context("forkserver")
            _pool, _pool_size = ProcessPoolExecutor(max_workers=size, mp_context=context), size
        return _pool


def _discard_pool() -> None:
    global _pool  # noqa: PLW0603 - see _get_pool
    with _lock:
        if _pool is not None:
            _pool.shutdown(wait=False, cancel_futures=True)
        _pool = None


atexit.register(_discard_pool)


def _probe_share(
    endpoints: list[Endpoint],
    nameservers: tuple[tuple[str, int], ...],
    dns_timeout: float,
    settings: ProbeSettings,
    known: dict[str, DnsAnswer],
) -> list[ProbeResult]:
    """Runs in a worker process."""
    resolver = DnsResolver(nameservers, dns_timeout, known)
    return probe_all(endpoints, resolver, settings, TlsClient())


def probe_in_processes(
    endpoints: Sequence[Endpoint],
    processes: int,
    nameservers: tuple[tuple[str, int], ...],
    dns_timeout: float,
    settings: ProbeSettings,
    fallback: tuple[DnsResolver, TlsClient],
) -> list[ProbeResult]:
    """Probe every endpoint across ``processes`` workers; order is kept."""
    if not endpoints:
        return []
    shares = [list(endpoints[i::processes]) for i in range(processes)]
    # One DNS batch for the cycle, here; each worker starts with its answers.
    known = fallback[0].resolve_all(names_to_resolve(endpoints))
    futures = []
    for attempt in (1, 2):
        try:
            pool = _get_pool(processes)
            futures = [
                pool.submit(_probe_share, share, nameservers, dns_timeout, settings, known)
                for share in shares
                if share
            ]
            break
        except BrokenProcessPool:  # a worker died since the last cycle: rebuild once
            _discard_pool()
            if attempt == 2:
                return probe_all(endpoints, fallback[0], settings, fallback[1])
    results: list[list[ProbeResult]] = []
    broken = False
    for share, future in zip((s for s in shares if s), futures, strict=True):
        try:
            results.append(future.result())
        except BrokenProcessPool:
            broken = True
            results.append(probe_all(share, fallback[0], settings, fallback[1]))
    if broken:
        _discard_pool()
    ordered: list[ProbeResult] = [None] * len(endpoints)  # type: ignore[list-item]
    for offset, share_results in enumerate(results):
        ordered[offset::processes] = share_results
    return ordered
