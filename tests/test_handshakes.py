"""The handshake engine: many connections at once from one or two threads, each
ending on its own deadline with its own reason, in job order, and no socket left
open whatever happens (real peers on loopback)."""

from __future__ import annotations

import contextlib
import os
import select
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
import yaml

from exporter.config import load_config_text
from exporter.discovery.sources import Discoverer
from exporter.probe import handshakes, poller, runner
from exporter.probe.dns import DnsResolver
from exporter.probe.handshakes import Handshake, run_handshakes
from exporter.probe.results import ProbeSettings, TlsReason, TlsResult
from exporter.probe.runner import probe_all
from exporter.probe.tls import TlsClient
from tests.conftest import lab_config
from tests.peers import hostile
from tests.peers.dnsmasq import free_port
from tests.pki import CA

TIMEOUT = 0.6
SNI = "mail.contoso.com"


@pytest.fixture
def peers():
    started: list[hostile.TcpPeer] = []

    def make(behaviour, address: str = "127.0.6.1") -> int:
        p = hostile.TcpPeer(address, behaviour)
        started.append(p)
        return p.port

    yield make
    for p in started:
        p.close()


@pytest.fixture
def record(monkeypatch) -> Callable[[], list[socket.socket]]:
    """Call once the peers are up: from then on every socket the engine opens is kept
    (accepted ones, made with fileno=, are the peers')."""

    def start() -> list[socket.socket]:
        created: list[socket.socket] = []

        class Recording(socket.socket):
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, **kwargs)
                if "fileno" not in kwargs:
                    created.append(self)

        monkeypatch.setattr(socket, "socket", Recording)
        return created

    return start


def _all_closed(sockets: list[socket.socket], within: float = 0.0) -> bool:
    deadline = time.monotonic() + within
    while any(s.fileno() != -1 for s in sockets) and time.monotonic() < deadline:
        time.sleep(0.05)
    return all(s.fileno() == -1 for s in sockets)


def _reasons(outcomes: list[Any]) -> list[Any]:
    return [o.reason if isinstance(o, TlsResult) else type(o) for o in outcomes]


def test_each_handshake_gets_its_own_reason_in_job_order(
    peers, make_tls, issuing_ca: CA, record
) -> None:
    good = make_tls("127.0.6.2", issuing_ca.issue(SNI)).port
    jobs = [
        Handshake("127.0.6.2", good, SNI),
        Handshake("127.0.6.9", free_port("127.0.6.9"), SNI),
        Handshake("127.0.6.1", peers(hostile.silent), SNI),
        Handshake("127.0.6.1", peers(hostile.garbage), SNI),
        Handshake("127.0.6.1", peers(hostile.reset), SNI),
        Handshake("127.0.6.1", peers(hostile.trickle), SNI),
        Handshake("127.0.6.2", good, None),
    ]
    sockets = record()
    start = time.monotonic()
    outcomes = run_handshakes(jobs, TIMEOUT, TlsClient(), 16)
    elapsed = time.monotonic() - start
    assert _reasons(outcomes) == [
        TlsReason.OK,
        TlsReason.REFUSED,
        TlsReason.TIMEOUT,
        TlsReason.NOT_TLS,
        TlsReason.RESET,
        TlsReason.TIMEOUT,
        TlsReason.OK,
    ]
    assert [(o.address, o.port, o.sni) for o in outcomes] == [
        (j.address, j.port, j.sni) for j in jobs
    ]
    assert len(outcomes[0].chain) == 2
    # All at once: one after another, the two silent peers alone would take 2 x TIMEOUT
    # (a bound with room for two busy cores, which still tells the two apart).
    assert elapsed < 2 * TIMEOUT
    assert len(sockets) == len(jobs)
    assert _all_closed(sockets)


def test_never_more_than_slots_at_once(peers) -> None:
    """Six silent peers, three slots: two rounds of the timeout, not one and not six."""
    port = peers(hostile.silent)
    jobs = [Handshake("127.0.6.1", port, SNI)] * 6
    start = time.monotonic()
    outcomes = run_handshakes(jobs, TIMEOUT, TlsClient(), 3)
    elapsed = time.monotonic() - start
    assert _reasons(outcomes) == [TlsReason.TIMEOUT] * 6
    assert 2 * TIMEOUT - 0.05 < elapsed < 3 * TIMEOUT
    for outcome in outcomes:
        # The poller's own measure, from each connection's start: its deadline.
        assert TIMEOUT - 0.05 < outcome.duration < TIMEOUT + 0.5


def test_without_epoll_poll_does_the_same(monkeypatch, peers, make_tls, issuing_ca: CA) -> None:
    monkeypatch.delattr(select, "epoll")
    good = make_tls("127.0.6.3", issuing_ca.issue(SNI)).port
    jobs = [Handshake("127.0.6.3", good, SNI), Handshake("127.0.6.1", peers(hostile.silent), SNI)]
    outcomes = run_handshakes(jobs, TIMEOUT, TlsClient(), 2)
    assert _reasons(outcomes) == [TlsReason.OK, TlsReason.TIMEOUT]


def test_an_sni_no_client_would_send_is_a_handshake_failure(make_tls, issuing_ca: CA) -> None:
    good = make_tls("127.0.6.4", issuing_ca.issue(SNI)).port
    jobs = [Handshake("127.0.6.4", good, name) for name in (".contoso.com", "mail\0.contoso.com")]
    outcomes = run_handshakes(jobs, TIMEOUT, TlsClient(), 2)
    assert _reasons(outcomes) == [TlsReason.HANDSHAKE_FAILED] * 2
    assert "leading dot" in (outcomes[0].detail or "")
    assert "null" in (outcomes[1].detail or "")


class _Breaks(TlsClient):
    """A TLS client that fails for one SNI the way a bug would."""

    def __init__(self, sni: str) -> None:
        super().__init__()
        self._sni = sni

    def wrap(self, sock: Any, sni: str | None) -> Any:
        if sni == self._sni:
            raise RuntimeError("boom")
        return super().wrap(sock, sni)


def test_a_bug_in_one_handshake_is_that_probes_internal_error(
    make_tls, make_dns, issuing_ca: CA, root_file
) -> None:
    port = make_tls("127.0.6.5", issuing_ca.issue(SNI)).port
    dns = make_dns({SNI: ["127.0.6.5"], "bad.contoso.com": ["127.0.6.5"]})
    config = lab_config(
        [
            {
                "name": "EXCH01",
                "fqdn": "exch01.contoso.local",
                "addresses": ["127.0.6.5"],
                "urls": {
                    "ews": f"https://bad.contoso.com:{port}/EWS",
                    "oab": f"https://{SNI}:{port}/OAB",
                },
            }
        ],
        dns,
        [root_file],
    )
    loaded = load_config_text(yaml.safe_dump(config), "<test>")
    inventory = Discoverer(loaded).discover(0)
    resolver = DnsResolver(loaded.dns.nameservers, 2.0)
    context: Any = _Breaks("bad.contoso.com")
    bad, good = probe_all(inventory.endpoints, resolver, ProbeSettings(TIMEOUT, 4), context)
    assert bad.internal_error == "RuntimeError: boom"
    assert bad.tls is None
    assert good.internal_error is None
    assert good.tls is not None
    assert good.tls.reason is TlsReason.OK


class _Interrupt(BaseException):
    pass


def _tcp(sockets: list[Any]) -> list[Any]:
    """The handshakes' sockets, not the DNS lookups'."""
    return [s for s in sockets if s.type == socket.SOCK_STREAM]


def _endpoints(dns: Any, root_file: Path, urls: list[str]) -> tuple[list[Any], DnsResolver]:
    servers = [
        {
            "name": f"EXCH{i}",
            "fqdn": f"exch{i}.contoso.local",
            "addresses": ["127.0.6.1"],
            "urls": {"ews": url},
        }
        for i, url in enumerate(urls)
    ]
    loaded = load_config_text(yaml.safe_dump(lab_config(servers, dns, [root_file])), "<test>")
    endpoints = list(Discoverer(loaded).discover(0).endpoints)
    return endpoints, DnsResolver(loaded.dns.nameservers, 2.0)


def test_handshakes_start_while_later_names_are_still_asked(
    monkeypatch, make_dns, root_file, record
) -> None:
    """800 names take a while to ask; the first handshakes do not wait for the last."""
    count, port = 800, free_port("127.0.6.1")  # refused: each probe ends at once
    dns = make_dns({f"n{i}.contoso.test": ["127.0.6.1"] for i in range(count)})
    endpoints, resolver = _endpoints(
        dns, root_file, [f"https://n{i}.contoso.test:{port}/EWS" for i in range(count)]
    )
    connections_when_dns_ended = []
    original = DnsResolver._resolve

    def watching(self: DnsResolver, futures: Any) -> None:
        original(self, futures)
        connections_when_dns_ended.append(sum(s.type == socket.SOCK_STREAM for s in list(sockets)))

    monkeypatch.setattr(DnsResolver, "_resolve", watching)
    sockets = record()
    results = probe_all(endpoints, resolver, ProbeSettings(TIMEOUT, 16), TlsClient())
    assert [r.tls.reason for r in results if r.tls] == [TlsReason.REFUSED] * count
    (started,) = connections_when_dns_ended
    assert started > 0  # handshakes were under way before the last answer came in


def test_an_interrupt_while_planning_stops_the_run(
    monkeypatch, peers, make_dns, root_file, record
) -> None:
    port = peers(hostile.silent)
    # 100 names: 100 distinct targets (one handshake per distinct target).
    endpoints, resolver = _endpoints(
        make_dns({}), root_file, [f"https://n{i}.contoso.test:{port}/EWS" for i in range(100)]
    )
    calls = []
    original = runner.plan_endpoint

    def interrupted(endpoint: Any, resolver: DnsResolver) -> Any:
        calls.append(1)
        if len(calls) == 3 * runner.FEED_CHUNK:
            raise _Interrupt
        return original(endpoint, resolver)

    monkeypatch.setattr(runner, "plan_endpoint", interrupted)
    sockets = record()
    with pytest.raises(_Interrupt):
        probe_all(endpoints, resolver, ProbeSettings(TIMEOUT, 8), TlsClient())
    # What was in flight (if the engine had started any) ends on its own deadline;
    # nothing more starts: the 32 jobs handed over would keep 8 slots busy for 4
    # rounds of the timeout.
    assert len(_tcp(sockets)) <= 8
    assert _all_closed(sockets, within=TIMEOUT + 1.0)


def test_when_the_engine_itself_fails_every_job_says_so(monkeypatch, peers, record) -> None:
    port = peers(hostile.silent)

    def broken(self: Any, timeout: float) -> list[tuple[int, int]]:
        raise RuntimeError("poller gone")

    monkeypatch.setattr(poller._Poller, "poll", broken)
    jobs = [Handshake("127.0.6.1", port, SNI)] * 3
    sockets = record()
    first, *rest = run_handshakes(jobs, TIMEOUT, TlsClient(), 1)
    assert isinstance(first, RuntimeError)
    assert str(first) == "poller gone"
    assert all(isinstance(o, RuntimeError) and "stopped before" in str(o) for o in rest)
    assert len(sockets) == 1
    assert _all_closed(sockets)


@contextlib.contextmanager
def _interrupt_after(seconds: float) -> Iterator[None]:
    """The check's global timeout: SIGALRM, raising in the main thread."""

    def interrupt(_signum: int, _frame: FrameType | None) -> None:
        raise _Interrupt

    previous = signal.signal(signal.SIGALRM, interrupt)
    try:
        signal.setitimer(signal.ITIMER_REAL, seconds)
        with pytest.raises(_Interrupt):
            yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_an_interrupt_propagates_and_leaves_no_socket_open(peers, record) -> None:
    """The interrupt arrives while the calling thread drives its share."""
    port = peers(hostile.silent)
    jobs = [Handshake("127.0.6.1", port, SNI)] * 8
    sockets = record()
    with _interrupt_after(0.2):
        run_handshakes(jobs, 1.0, TlsClient(), 4)
    # Jobs not yet started never start; one another thread has in flight ends on
    # its own deadline.
    assert len(sockets) == 4
    assert _all_closed(sockets, within=2.0)


def test_an_interrupt_while_waiting_for_the_last_handshakes_stops_the_run(
    peers, make_dns, root_file, record
) -> None:
    """Planning is done and the caller only waits for the engine's threads: the
    interrupt arrives there, and the queued jobs must not start after it."""
    port = peers(hostile.silent)
    # 32 names (32 SNIs, so 32 handshakes: one per distinct target), one address.
    endpoints, resolver = _endpoints(
        make_dns({}), root_file, [f"https://n{i}.contoso.test:{port}/EWS" for i in range(32)]
    )
    sockets = record()
    with _interrupt_after(0.2):
        probe_all(endpoints, resolver, ProbeSettings(TIMEOUT, 8), TlsClient())
    assert len(_tcp(sockets)) == 8  # the first round; the other 24 never start
    assert _all_closed(sockets, within=TIMEOUT + 1.0)


def test_probe_tls_raises_what_the_engine_could_not_turn_into_data(make_tls, issuing_ca) -> None:
    port = make_tls("127.0.6.6", issuing_ca.issue(SNI)).port
    context: Any = _Breaks(SNI)
    with pytest.raises(RuntimeError, match="boom"):
        handshakes.probe_tls("127.0.6.6", port, SNI, TIMEOUT, context)


def test_an_address_the_os_refuses_is_that_jobs_error(make_tls, issuing_ca: CA) -> None:
    good = make_tls("127.0.6.7", issuing_ca.issue(SNI)).port
    jobs = [Handshake("127.0.6.7", 70000, SNI), Handshake("127.0.6.7", good, SNI)]
    bad, ok = run_handshakes(jobs, TIMEOUT, TlsClient(), 2)
    assert isinstance(bad, OverflowError)
    assert isinstance(ok, TlsResult)
    assert ok.reason is TlsReason.OK


def test_one_thread_per_usable_cpu_up_to_two(monkeypatch, peers) -> None:
    port = peers(hostile.silent)
    jobs = [Handshake("127.0.6.1", port, SNI)] * 4

    def helpers_seen() -> int:
        seen = 0
        done = threading.Event()

        def watch() -> None:
            nonlocal seen
            while not done.is_set():
                seen = max(seen, sum(t.name == "probe-handshakes" for t in threading.enumerate()))
                time.sleep(0.01)

        watcher = threading.Thread(target=watch)
        watcher.start()
        run_handshakes(jobs, 0.3, TlsClient(), 4)
        done.set()
        watcher.join()
        return seen

    cpus = len(os.sched_getaffinity(0))
    assert helpers_seen() == (1 if cpus >= 2 else 0)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0})  # taskset -c 0
    assert helpers_seen() == 0
