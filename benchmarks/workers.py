"""Benchmark worker processes; each measures itself and prints one JSON line.

    python -m benchmarks.workers refresh CONFIG          # this exporter: one full refresh
    python -m benchmarks.workers bare TARGETS CONC       # bare handshake loop, same Python and TLS
    python -m benchmarks.workers bare_stdlib TARGETS CONC   # the same with Python's ssl module
    python -m benchmarks.workers blackbox TARGETS CONC PORT   # drives blackbox_exporter /probe
    python -m benchmarks.workers rss CONFIG CYCLES       # RSS after 10 and after CYCLES refreshes

Each does one untimed warm-up pass, prints "WARM", waits for "GO" on stdin (so the
driver can sample other processes' CPU around exactly the timed pass), runs the
timed pass and prints {"wall":..., "cpu":..., "probes":..., "maxrss_mb":...}.
"""

from __future__ import annotations

import http.client
import json
import resource
import socket
import ssl
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _timed(work: Any, probes: int) -> None:
    work()  # warm-up, not counted
    print("WARM", flush=True)
    sys.stdin.readline()
    cpu, start = _cpu(), time.perf_counter()
    work()
    wall, cpu = time.perf_counter() - start, _cpu() - cpu
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"wall": wall, "cpu": cpu, "probes": probes, "maxrss_mb": maxrss}), flush=True)


def refresh(config_path: str) -> None:
    from exporter.config import load_config
    from exporter.discovery.sources import Discoverer
    from exporter.pipeline import World, run_cycle

    config = load_config(config_path)
    world, discoverer = World(), Discoverer(config)
    snapshots = []

    def work() -> None:
        snapshot = run_cycle(config, world, discoverer)
        bad = [r for r in snapshot.endpoints if r.status.value != "ok"]
        if bad:
            raise SystemExit(f"refresh: {len(bad)} endpoints not ok, e.g. {bad[0].verdict.checks}")
        snapshots.append(snapshot)

    _timed(work, sum(len(s.urls) for s in config.servers))  # one probe per URL


def _targets(path: str) -> list[tuple[str, str]]:
    return [tuple(line.split()) for line in Path(path).read_text().splitlines() if line]  # type: ignore[misc]


def bare(targets_path: str, concurrency: str) -> None:
    """The practical limit: connect, handshake with SNI, fetch the chain, close; in
    threads, with the exporter's TLS library and settings (pyOpenSSL on
    cryptography's OpenSSL)."""
    from exporter.probe.tls import TlsClient, peer_chain

    targets = _targets(targets_path)
    client = TlsClient()  # the same settings: TLS 1.2-1.3, Windows' groups

    def one(target: tuple[str, str]) -> int:
        addr, name = target
        with socket.create_connection((addr, 8443), timeout=5) as raw:
            raw.settimeout(None)  # OpenSSL reads the descriptor itself: make it blocking
            tls = client.wrap(raw, name)
            tls.do_handshake()
            return len(peer_chain(tls))

    _threads(one, targets, int(concurrency))


def bare_stdlib(targets_path: str, concurrency: str) -> None:
    """The same loop with Python's ssl module, on the system's OpenSSL."""
    targets = _targets(targets_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE

    def one(target: tuple[str, str]) -> int:
        addr, name = target
        with (
            socket.create_connection((addr, 8443), timeout=5) as raw,
            context.wrap_socket(raw, server_hostname=name) as tls,
        ):
            chain = tls._sslobj.get_unverified_chain()  # type: ignore[union-attr]
            return len([c.public_bytes(ssl._ssl.ENCODING_DER) for c in chain])  # type: ignore[attr-defined]

    _threads(one, targets, int(concurrency))


def _threads(one: Any, targets: list[tuple[str, str]], concurrency: int) -> None:
    def work() -> None:
        with ThreadPoolExecutor(concurrency) as pool:
            assert all(n == 2 for n in pool.map(one, targets))

    _timed(work, len(targets))


def blackbox(targets_path: str, concurrency: str, port: str) -> None:
    """Keep-alive HTTP clients in threads, one /probe per target (BENCHMARKS.md)."""
    targets = _targets(targets_path)
    workers = int(concurrency)

    def chunk(index: int) -> int:
        conn = http.client.HTTPConnection("127.0.0.1", int(port), timeout=30)
        ok = 0
        for addr, _name in targets[index::workers]:
            conn.request("GET", f"/probe?module=tls&target={addr}:8443")
            body = conn.getresponse().read().decode()
            ok += "\nprobe_success 1" in body
        conn.close()
        return ok

    def work() -> None:
        with ThreadPoolExecutor(workers) as pool:
            total = sum(pool.map(chunk, range(workers)))
        if total != len(targets):
            raise SystemExit(f"blackbox: {len(targets) - total} probes failed")

    _timed(work, len(targets))


def rss(config_path: str, cycles: str) -> None:
    from exporter.config import load_config
    from exporter.discovery.sources import Discoverer
    from exporter.pipeline import World, run_cycle

    def vm_rss() -> float:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    config = load_config(config_path)
    world, discoverer = World(), Discoverer(config)
    marks = {}
    start = time.perf_counter()
    for cycle in range(1, int(cycles) + 1):
        run_cycle(config, world, discoverer)
        if cycle in (10, 100, 1000, 3000, int(cycles)):
            marks[cycle] = vm_rss()
    print(
        json.dumps(
            {
                "rss_after_10_mb": marks[10],
                "rss_after_n_mb": marks[int(cycles)],
                "marks_mb": marks,  # RSS after 10, 100, 1000, 3000 refreshes, as reached
                "cycles": int(cycles),
                "seconds": time.perf_counter() - start,
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    {
        "refresh": refresh,
        "bare": bare,
        "bare_stdlib": bare_stdlib,
        "blackbox": blackbox,
        "rss": rss,
    }[command](*args)
