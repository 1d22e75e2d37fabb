"""Deadlines, not timeouts (issue #23): every fetch (AIA, CRL, OCSP, the auth
metadata document) ends within its timeout however slowly a peer sends; at most
``max_urls`` of a certificate's URLs are tried and a chain's fetches share
``chain_budget``; ``serve`` publishes after one bounded refresh and stops within
the fetch timeout. Real peers on loopback: servers that trickle one byte at a time
forever and one that accepts and never answers, beside the same URLs served
normally. Counts of what is tried here are in README.md ("Reliability")."""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import re
import socket
import ssl
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import AuthorityInformationAccessOID

from exporter.config import load_config_text
from exporter.evaluate.outcome import Check, Reason, Status
from exporter.pki.fetch import FetchCache, Fetcher
from exporter.probe.dns import DnsResolver
from exporter.probe.document import fetch_document
from exporter.probe.results import TlsReason
from tests.conftest import lab_config, run
from tests.peers import hostile
from tests.peers.ocsp import OcspResponder
from tests.peers.pki_http import PkiHttp
from tests.pki import CA, Issued

PKI = "127.0.6.1"
NAMES = {
    "mail.contoso.com": ["127.0.1.1"],
    "exch01.contoso.local": ["127.0.1.1"],
    "exch02.contoso.local": ["127.0.1.2"],
    "pki.contoso.com": [PKI],
}
EVERY = 0.4  # seconds between the trickling peers' bytes
SLACK = 1.5  # two busy cores
METADATA = "/autodiscover/metadata/json/1"


def endless_head() -> Iterator[int]:
    """A response that never ends: its status line, then one header line that grows a
    byte at a time (http.client allows 64 KB a line: hours at this pace)."""
    return itertools.chain(b"HTTP/1.1 200 OK\r\nX-Slow: ", itertools.repeat(ord("a")))


class Trickle:
    """Accepts, reads the request, then sends ``stream`` one byte every ``EVERY``
    seconds until the client hangs up; over TLS when given a server context."""

    def __init__(
        self,
        make_stream: Callable[[], Iterator[int]],
        tls: ssl.SSLContext | None = None,
        head: bytes = b"",
    ) -> None:
        self.connections = 0

        def behaviour(conn: socket.socket) -> None:  # until the client hangs up (OSError)
            self.connections += 1
            stream = tls.wrap_socket(conn, server_side=True) if tls else conn
            stream.recv(65536)
            stream.sendall(head)
            for byte in make_stream():
                stream.sendall(bytes([byte]))
                time.sleep(EVERY)

        self._peer = hostile.TcpPeer(PKI, behaviour)
        self.port = self._peer.port

    def url(self, path: str, host: str = "pki.contoso.com") -> str:
        return f"http://{host}:{self.port}{path}"

    def close(self) -> None:
        self._peer.close()


@pytest.fixture
def trickle() -> Iterator[Callable[..., Trickle]]:
    started: list[Trickle] = []

    def make(**kwargs: Any) -> Trickle:
        kwargs.setdefault("make_stream", endless_head)
        peer = Trickle(**kwargs)
        started.append(peer)
        return peer

    yield make
    for peer in started:
        peer.close()


@pytest.fixture
def pki_http() -> Iterator[PkiHttp]:
    server = PkiHttp(PKI)
    yield server
    server.close()


@pytest.fixture
def cycle(make_dns, make_tls, write_config, tmp_path: Path) -> Callable[..., Any]:
    """One refresh over EXCH01's EWS (``leaf`` on 127.0.1.1), trusting ``root``:
    (the snapshot, the endpoint's report)."""

    def one(root: CA, leaf: Issued, send: list[Any] | None = None, **sections: Any) -> Any:
        tls = make_tls("127.0.1.1", leaf, send=send)
        url = f"https://mail.contoso.com:{tls.port}/EWS/Exchange.asmx"
        entry = {"name": "EXCH01", "fqdn": "exch01.contoso.local", "urls": {"ews": url}}
        root_file = root.write(tmp_path / f"root-{id(root)}.pem")
        config = lab_config([entry], make_dns(NAMES), [root_file], **sections)
        snapshot = run(write_config(config))
        return snapshot, snapshot.endpoints[0]

    return one


def check(report: Any, which: Check) -> tuple[bool | None, Reason | None, str]:
    result = report.verdict.checks[which]
    return result.ok, result.reason, result.message or ""


def fetcher() -> Fetcher:
    """Fetches by IP literal need no DNS: the resolver names a port nobody serves."""
    return Fetcher(DnsResolver((("127.0.0.1", 9),), 1.0), None, FetchCache())


# --- The peer defeats timeouts: a control for everything below ------------------------


def test_a_trickling_peer_outlasts_a_per_read_timeout(trickle) -> None:
    """What the deadline is for: urllib with a 0.5 s timeout, which bounds each
    read, is still waiting for the headers after 3 s (six times its timeout)."""
    peer = trickle()
    done = threading.Event()

    def fetch() -> None:
        with contextlib.suppress(Exception):  # any end will do: the test asserts none comes
            urllib.request.urlopen(f"http://{PKI}:{peer.port}/x.crl", timeout=0.5)
        done.set()

    threading.Thread(target=fetch, daemon=True).start()
    assert not done.wait(3.0)


# --- Every fetch ends by its deadline ---------------------------------------------------


@pytest.mark.parametrize("where", ["head", "body"])
def test_a_trickled_fetch_ends_within_its_timeout(trickle, pki_http, where) -> None:
    if where == "head":
        peer = trickle()
    else:  # headers at once, then a body of 100 KB a byte at a time
        head = b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n"
        peer = trickle(head=head, make_stream=lambda: itertools.repeat(0x30))
    start = time.monotonic()
    fetched = fetcher().fetch(
        f"http://{PKI}:{peer.port}/issuing.crl", max_bytes=1 << 20, max_age=60, timeout=1.0
    )
    took = time.monotonic() - start
    assert fetched.body is None
    assert fetched.error == f"http://{PKI}:{peer.port}/issuing.crl: no answer within the timeout"
    assert 0.9 < took < 1.0 + SLACK
    # Control: the same request to a server that answers gets the body.
    pki_http.serve("/issuing.crl", body=b"the CRL")
    good = fetcher().fetch(
        f"http://{PKI}:{pki_http.port}/issuing.crl", max_bytes=1 << 20, max_age=60, timeout=1.0
    )
    assert (good.body, good.error) == (b"the CRL", None)


def _healthy(kind: str, inter: CA, leaf: Issued, pki_http: PkiHttp, tmp_path: Path) -> None:
    if kind == "aia":
        pki_http.serve("/p", body=inter.der(), content_type="application/pkix-cert")
    elif kind == "crl":
        pki_http.serve("/p", body=inter.crl([]))
    else:
        OcspResponder(tmp_path / "ocsp", inter, pki_http, [leaf.cert], path="/p")


@pytest.mark.parametrize("kind", ["aia", "crl", "ocsp"])
def test_a_trickling_pki_server_costs_one_timeout(cycle, trickle, pki_http, tmp_path, kind) -> None:
    """A caIssuers URL, a CDP or an OCSP responder that sends a byte every 0.4 s,
    forever: the refresh ends within the fetch timeout; the same URL served by a
    server that answers judges the chain."""
    root = CA("Contoso Root")
    inter = CA("Contoso Issuing CA", parent=root)
    peer = trickle()
    # AIA: the server does not send its intermediate, so it must be fetched.
    send = [] if kind == "aia" else None
    which = Check.ISSUER_TRUSTED if kind == "aia" else Check.NOT_REVOKED
    leaf = inter.issue("mail.contoso.com", **{kind: peer.url("/p")})
    section = "aia" if kind == "aia" else "revocation"
    snapshot, report = cycle(root, leaf, send, **{section: {"timeout": "1s"}})
    assert snapshot.duration < 1.0 + SLACK
    ok, reason, text = check(report, which)
    assert not ok
    assert reason is (Reason.INCOMPLETE_CHAIN if kind == "aia" else Reason.REVOCATION_UNAVAILABLE)
    assert f"{peer.url('/p')}: no answer within the timeout" in text
    assert peer.connections == 1
    # Control: the same shape, the URL served by a server that answers.
    good_leaf = inter.issue("mail.contoso.com", **{kind: pki_http.url("/p")})
    _healthy(kind, inter, good_leaf, pki_http, tmp_path)
    _, good = cycle(root, good_leaf, send, **{section: {"timeout": "1s"}})
    assert check(good, which)[:2] == (True, None)
    assert good.verdict.checks[Check.CHAIN_COMPLETE].ok is (kind != "aia")


def _document(auth: Issued) -> bytes:
    value = base64.b64encode(auth.der()).decode()
    key = {"usage": "signing", "keyvalue": {"type": "x509Certificate", "value": value}}
    return json.dumps({"id": "_", "version": "1.0", "keys": [key]}).encode()


def test_a_trickling_metadata_server_costs_one_probe_timeout(
    trickle, make_tls, tmp_path, issuing_ca
) -> None:
    """Behind a completed TLS handshake, the metadata response trickles: the
    fetch ends at its timeout; a server that answers gives the document."""
    served = issuing_ca.issue("exch01.contoso.local")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*served.write(tmp_path, "slow"))
    peer = trickle(tls=context)
    result = fetch_document(PKI, peer.port, "exch01.contoso.local", METADATA, 1.5)
    assert (result.body, result.transport) == (None, TlsReason.TIMEOUT)
    assert result.detail == "no HTTP response within 1.5s"
    assert 1.4 < result.duration < 1.5 + SLACK
    # Control: a server that answers.
    body = _document(served)
    server = make_tls("127.0.1.1", served)
    server.documents[METADATA] = (200, body)
    good = fetch_document("127.0.1.1", server.port, "exch01.contoso.local", METADATA, 1.5)
    assert (good.body, good.status, good.detail) == (body, 200, None)


def test_a_trickled_tls_handshake_is_within_the_same_deadline() -> None:
    """The metadata server's handshake arrives a byte a second (a record header
    that promises 64 bytes): the handshake ends at the fetch's timeout."""
    peer = hostile.TcpPeer(PKI, hostile.trickle)
    try:
        result = fetch_document(PKI, peer.port, "exch01.contoso.local", METADATA, 1.5)
    finally:
        peer.close()
    assert (result.body, result.transport) == (None, TlsReason.TIMEOUT)
    assert result.detail == "TLS handshake not finished within 1.5s"
    assert 1.4 < result.duration < 1.5 + SLACK


def test_a_refresh_with_a_trickling_metadata_server_ends_in_time(
    trickle, make_dns, write_config, root_file, tmp_path, issuing_ca
) -> None:
    served = issuing_ca.issue("exch01.contoso.local")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*served.write(tmp_path, "slow"))
    peer = trickle(tls=context)
    url = f"https://exch01.contoso.local:{peer.port}{METADATA}"
    dns = make_dns({"exch01.contoso.local": [PKI]})
    entry = {"name": "EXCH01", "fqdn": "exch01.contoso.local", "urls": {"auth_certificate": url}}
    config = lab_config([entry], dns, [root_file])
    config["probe"]["timeout"] = "2s"
    snapshot = run(write_config(config))
    assert snapshot.duration < 2.0 + SLACK
    (report,) = snapshot.endpoints
    ok, reason, text = check(report, Check.PROBE_OK)
    assert (ok, reason) == (False, Reason.TIMEOUT)
    assert "no HTTP response within 2s" in text


# --- A certificate's URLs and a chain's fetches are capped -----------------------------


def _leaf_naming(inter: CA, *, ca_issuers: Sequence[str] = (), crls: Sequence[str] = ()) -> Issued:
    """A leaf for mail.contoso.com whose AIA and CDP extensions name every URL given."""
    issued = inter.issue("mail.contoso.com")
    builder = (
        x509.CertificateBuilder()
        .subject_name(issued.cert.subject)
        .issuer_name(issued.cert.issuer)
        .public_key(issued.key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(issued.cert.not_valid_before_utc)
        .not_valid_after(issued.cert.not_valid_after_utc)
    )
    for extension in issued.cert.extensions:
        builder = builder.add_extension(extension.value, extension.critical)
    if ca_issuers:
        access = [
            x509.AccessDescription(
                AuthorityInformationAccessOID.CA_ISSUERS, x509.UniformResourceIdentifier(url)
            )
            for url in ca_issuers
        ]
        builder = builder.add_extension(x509.AuthorityInformationAccess(access), False)
    if crls:
        points = [
            x509.DistributionPoint([x509.UniformResourceIdentifier(url)], None, None, None)
            for url in crls
        ]
        builder = builder.add_extension(x509.CRLDistributionPoints(points), False)
    cert = builder.sign(inter.key, hashes.SHA256())
    return Issued(cert, issued.key, [cert, *issued.chain[1:]])


class Silent:
    """Accepts and never answers; counts the connections."""

    def __init__(self) -> None:
        self.connections = 0

        def behaviour(conn: socket.socket) -> None:
            self.connections += 1
            hostile.silent(conn)

        self._peer = hostile.TcpPeer(PKI, behaviour)
        self.port = self._peer.port

    def urls(self, count: int, suffix: str) -> list[str]:
        return [f"http://pki.contoso.com:{self.port}/{n}.{suffix}" for n in range(count)]

    def close(self) -> None:
        self._peer.close()


@pytest.fixture
def silent() -> Iterator[Silent]:
    peer = Silent()
    yield peer
    peer.close()


@pytest.mark.parametrize(
    ("section", "tried", "seconds", "note"),
    [
        # Four URLs at most; the default budget (twice the timeout) ends after two.
        ({"timeout": "1s"}, 2, 2.0, "26 more URLs not tried (aia.max_urls is 4)"),
        # Every URL allowed: the budget alone ends it.
        ({"timeout": "1s", "max_urls": 30, "chain_budget": "3s"}, 3, 3.0, "was spent"),
        # A budget as long as all four: four tried.
        ({"timeout": "1s", "chain_budget": "6s"}, 4, 4.0, "26 more URLs not tried"),
    ],
    ids=["default", "budget", "max_urls"],
)
def test_thirty_ca_issuers_urls_to_a_silent_host(
    cycle, silent, section, tried, seconds, note
) -> None:
    """Without the caps, 30 URLs at 1 s each: 30 s."""
    root = CA("Contoso Root")
    inter = CA("Contoso Issuing CA", parent=root)
    leaf = _leaf_naming(inter, ca_issuers=silent.urls(30, "crt"))
    snapshot, report = cycle(root, leaf, [], aia=section)
    assert snapshot.duration < seconds + SLACK
    assert silent.connections == tried
    ok, reason, text = check(report, Check.ISSUER_TRUSTED)
    assert (ok, reason) == (False, Reason.INCOMPLETE_CHAIN)
    assert note in text
    assert f"{silent.urls(1, 'crt')[0]}: no answer within the timeout" in text


def test_thirty_crl_urls_to_a_silent_host(cycle, silent) -> None:
    root = CA("Contoso Root")
    inter = CA("Contoso Issuing CA", parent=root)
    leaf = _leaf_naming(inter, crls=silent.urls(30, "crl"))
    snapshot, report = cycle(root, leaf, revocation={"timeout": "1s", "max_urls": 2})
    assert snapshot.duration < 2.0 + SLACK
    assert silent.connections == 2
    ok, reason, text = check(report, Check.NOT_REVOKED)
    assert (ok, reason) == (None, Reason.REVOCATION_UNAVAILABLE)
    assert "28 more URLs not tried (revocation.max_urls is 2)" in text
    assert report.verdict.status is Status.WARNING


def test_a_fetch_the_budget_cut_short_is_not_cached(silent) -> None:
    """The URL did not get its whole timeout: another chain may give it that; one
    that did is remembered as failed."""
    one = fetcher()
    url = f"http://{PKI}:{silent.port}/a.crl"
    cut = one.fetch(
        url,
        max_bytes=1024,
        max_age=60,
        timeout=5.0,
        deadline=time.monotonic() + 0.5,
        budget="revocation.chain_budget",
    )
    assert cut.error == f"{url}: no answer within what was left of revocation.chain_budget"
    assert one.cache.get((url, b""), time.time()) is None
    whole = one.fetch(url, max_bytes=1024, max_age=60, timeout=0.5)
    assert whole.error == f"{url}: no answer within the timeout"
    assert one.cache.get((url, b""), time.time()) == whole
    spent = one.fetch(
        f"{url}?2", max_bytes=1024, max_age=60, timeout=5.0, deadline=time.monotonic() - 1
    )
    assert spent.error == f"{url}?2: not fetched: the budget was spent"
    assert silent.connections == 2


def test_fetch_limits_default_from_the_timeout() -> None:
    config = load_config_text(
        "servers: [{name: A, fqdn: a.b.c, urls: {ews: https://a.b.c/EWS}}]\n"
        "aia: {timeout: 3s}\nrevocation: {max_urls: 2, chain_budget: 1m}\n",
        "inline.yaml",
    )
    assert (config.aia.timeout, config.aia.max_urls, config.aia.chain_budget) == (3, 4, 6)
    assert (config.revocation.max_urls, config.revocation.chain_budget) == (2, 60)


# --- serve: ready after one bounded refresh, and SIGTERM within the fetch timeout ------


def test_serve_is_ready_and_stops_in_time_with_trickling_cdps(
    trickle, make_dns, make_tls, write_config, tmp_path, start_exporter
) -> None:
    """Two chains (so the refresh judges them in threads), each with a CDP that
    trickles forever."""
    root = CA("Contoso Root")
    inter = CA("Contoso Issuing CA", parent=root)
    peer = trickle()
    entries = []
    for n in (1, 2):
        leaf = inter.issue("mail.contoso.com", crl=peer.url(f"/{n}.crl"))
        tls = make_tls(f"127.0.1.{n}", leaf)
        url = f"https://exch0{n}.contoso.local:{tls.port}/EWS/Exchange.asmx"
        entries.append(
            {"name": f"EXCH0{n}", "fqdn": f"exch0{n}.contoso.local", "urls": {"ews": url}}
        )
    root_file = root.write(tmp_path / "contoso-root.pem")
    config = lab_config(entries, make_dns(NAMES), [root_file], revocation={"timeout": "1s"})
    path = write_config(config)

    first = start_exporter(path, ready=False)
    first.wait_ready(timeout=30)
    refresh = re.search(r'duration_seconds"?[=:]\s*"?([\d.]+)', first.logs())
    assert refresh is not None, first.logs()
    assert float(refresh.group(1)) < 1.0 + SLACK
    status = json.loads(first.get("/api/v1/status")[1])
    assert len(status["endpoints"]) == 2
    first.terminate()

    # SIGTERM while both fetches trickle: the process ends within the fetch timeout.
    before = peer.connections
    second = start_exporter(path, ready=False)
    deadline = time.monotonic() + 30
    while peer.connections < before + 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert peer.connections == before + 2
    start = time.monotonic()
    second.terminate(timeout=10)
    assert time.monotonic() - start < 1.0 + SLACK
