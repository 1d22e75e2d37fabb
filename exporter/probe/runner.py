"""Runs the DNS and TLS probes for every endpoint, concurrently and in isolation.

Every name of the cycle is asked at once (one DNS batch, in its own thread, each
answer published as it comes); endpoints are planned in order as their answers
arrive, and their handshakes start in :mod:`exporter.probe.handshakes` while later
names are still being asked. Endpoints that share (address, port, SNI, STARTTLS
protocol) share one handshake: a server's nine URLs on one name cost one.

This is the one place where an unexpected exception becomes data
(``ProbeResult.internal_error``), as sslyze's ScanCommandAttempt does: whatever
one endpoint does, every other endpoint is still probed and judged.
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace

from exporter.model import Component, Endpoint
from exporter.probe.dns import DnsResolver
from exporter.probe.document import fetch_document
from exporter.probe.handshakes import Handshake, HandshakeEnd, HandshakeRun
from exporter.probe.results import DocumentResult, ProbeResult, ProbeSettings, SkipReason
from exporter.probe.tls import TlsClient

# Handshakes handed to the engine at a time while planning goes on.
FEED_CHUNK = 16
# Auth metadata documents fetched at once (one per client-access server), at most
# probe.concurrency: each is bounded by probe.timeout as a whole, so slow metadata
# servers cost about one timeout together rather than one each in turn.
DOCUMENT_THREADS = 32


def choose_address(server_addresses: Sequence[str], url_addresses: Sequence[str]) -> str | None:
    """The server address a client would reach: one DNS gives for the URL, else the first."""
    for address in url_addresses:
        if address in server_addresses:
            return address
    return server_addresses[0] if server_addresses else None


def plan_endpoint(
    endpoint: Endpoint, resolver: DnsResolver
) -> tuple[ProbeResult, Handshake | None]:
    """Everything before the handshake: the result so far, and the handshake to make
    (None when it is skipped; ``skipped`` then says why)."""
    target = endpoint.target
    if target is None:
        skip = SkipReason.NO_URL if not endpoint.url.strip() else SkipReason.BAD_URL
        return ProbeResult(endpoint, None, (), None, None, None, skip), None
    url_dns = resolver.lookup(target.host)
    server = endpoint.server
    server_dns = None
    server_addresses = server.addresses
    if not server_addresses:
        server_dns = resolver.lookup(server.fqdn)
        server_addresses = server_dns.addresses
    address = choose_address(server_addresses, url_dns.addresses)
    skipped, job = None, None
    if target.scheme == "http":
        skipped = SkipReason.PLAIN_HTTP
    else:
        if address is None:
            # No way to tell which machine is "the server": still look at the certificate
            # wherever the URL points, so a DNS gap never hides a certificate problem.
            address = url_dns.addresses[0] if url_dns.addresses else None
        if address is None:
            skipped = SkipReason.SERVER_ADDRESS_UNKNOWN
        else:
            sni = None if target.is_ip else target.host
            job = Handshake(address, target.port, sni, target.starttls)
    result = ProbeResult(endpoint, url_dns, server_addresses, server_dns, address, None, skipped)
    return result, job


def _internal_error(endpoint: Endpoint, exc: BaseException, duration: float) -> ProbeResult:
    summary = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    trace = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)).strip()
    return ProbeResult(
        endpoint,
        None,
        (),
        None,
        None,
        None,
        internal_error=summary,
        duration=duration,
        internal_trace=trace,
    )


def _with_document(result: ProbeResult, future: Future[DocumentResult], took: float) -> ProbeResult:
    try:
        document = future.result()
    except Exception as exc:  # noqa: BLE001 - errors become data here, and only here
        return _internal_error(result.endpoint, exc, took)
    return replace(result, document=document, duration=took + document.duration)


def names_to_resolve(endpoints: Sequence[Endpoint]) -> list[str]:
    """Every name :func:`plan_endpoint` will look up, in the order it will, so that
    they are asked at once."""
    names: dict[str, None] = {}
    for endpoint in endpoints:
        if endpoint.target is not None:
            names[endpoint.target.host] = None
            if not endpoint.server.addresses:
                names[endpoint.server.fqdn] = None
    return list(names)


def probe_all(
    endpoints: Sequence[Endpoint],
    resolver: DnsResolver,
    settings: ProbeSettings,
    client: TlsClient,
) -> list[ProbeResult]:
    """Probe every endpoint with at most ``settings.concurrency`` handshakes at once;
    order is kept."""
    if not endpoints:
        return []
    # One thread asks every name of the cycle, in endpoint order, publishing each
    # answer as it comes; planning follows it and feeds the handshakes as it goes.
    asking = threading.Thread(
        target=resolver.resolve_all,
        args=(names_to_resolve(endpoints),),
        name="probe-dns",
        daemon=True,  # an interrupt does not wait for it
    )
    asking.start()
    run = HandshakeRun(settings.timeout, client, settings.concurrency)
    planned: list[tuple[ProbeResult, float]] = []  # and how long planning took
    # One handshake per distinct (address, port, SNI, STARTTLS protocol): the chain a
    # server presents depends on nothing else (docs/ARCHITECTURE.md). Each planned
    # endpoint maps to its handshake's number, in the order handshakes were added.
    number_of: dict[Handshake, int] = {}
    job_of: dict[int, int] = {}
    jobs: list[Handshake] = []
    documents: dict[int, Future[DocumentResult]] = {}
    threads = max(1, min(DOCUMENT_THREADS, settings.concurrency))
    fetcher = ThreadPoolExecutor(threads, thread_name_prefix="probe-documents")
    try:
        for endpoint in endpoints:
            start = time.monotonic()
            try:
                result, job = plan_endpoint(endpoint, resolver)
            except Exception as exc:  # noqa: BLE001 - errors become data here, and only here
                result, job = _internal_error(endpoint, exc, 0.0), None
            if job is not None and endpoint.component is Component.AUTH_CERTIFICATE:
                path = endpoint.target.path if endpoint.target else "/"
                documents[len(planned)] = fetcher.submit(
                    fetch_document,
                    job.address,
                    job.port,
                    job.sni or job.address,
                    path,
                    settings.timeout,
                )
            elif job is not None:
                if job not in number_of:
                    number_of[job] = len(number_of)
                    jobs.append(job)
                job_of[len(planned)] = number_of[job]
            planned.append((result, time.monotonic() - start))
            if len(jobs) == FEED_CHUNK:
                run.add(jobs)
                jobs = []
        run.add(jobs)
    except BaseException:  # an interrupt (the check's global timeout)
        run.abort()
        fetcher.shutdown(wait=False, cancel_futures=True)
        raise
    asking.join()  # every answer is in: the thread is closing its sockets
    ends = run.finish()
    fetcher.shutdown(wait=True)
    return _assemble(planned, job_of, ends, documents)


def _assemble(
    planned: list[tuple[ProbeResult, float]],
    job_of: dict[int, int],
    ends: list[HandshakeEnd],
    documents: dict[int, Future[DocumentResult]],
) -> list[ProbeResult]:
    """Each planned endpoint with its handshake's or document's outcome, in order."""
    results = []
    for index, (result, took) in enumerate(planned):
        number = job_of.get(index)
        outcome = ends[number] if number is not None else None
        if index in documents:
            results.append(_with_document(result, documents[index], took))
        elif outcome is None:
            results.append(replace(result, duration=took))
        elif isinstance(outcome, Exception):
            results.append(_internal_error(result.endpoint, outcome, took))
        else:
            results.append(replace(result, tls=outcome, duration=took + outcome.duration))
    return results
