"""Probe failure modes against real misbehaving peers: each ends within its timeout,
gets the right reason, and leaves every other endpoint's verdict untouched."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from exporter.evaluate.outcome import Check, Reason, Status
from exporter.probe.dns import DnsResolver
from exporter.probe.handshakes import probe_tls
from exporter.probe.results import DnsReason, TlsReason
from exporter.probe.tls import TlsClient
from tests.conftest import lab_config, run
from tests.peers import hostile
from tests.peers.dnsmasq import free_port
from tests.pki import CA

TIMEOUT = 1.0


@pytest.fixture
def peer():
    started = []

    def make(behaviour, address="127.0.2.1"):
        p = hostile.TcpPeer(address, behaviour)
        started.append(p)
        return p

    yield make
    for p in started:
        p.close()


def test_refused() -> None:
    port = free_port("127.0.2.9")
    result = probe_tls("127.0.2.9", port, "mail.contoso.com", TIMEOUT, TlsClient())
    assert result.reason is TlsReason.REFUSED


@pytest.mark.parametrize(
    ("behaviour", "expected"),
    [
        (hostile.silent, TlsReason.TIMEOUT),
        (hostile.trickle, TlsReason.TIMEOUT),
        (hostile.garbage, TlsReason.NOT_TLS),
        (hostile.reset, TlsReason.RESET),
    ],
)
def test_hostile_peer_ends_within_timeout(peer, behaviour, expected) -> None:
    p = peer(behaviour)
    start = time.monotonic()
    result = probe_tls("127.0.2.1", p.port, "mail.contoso.com", TIMEOUT, TlsClient())
    elapsed = time.monotonic() - start
    assert result.reason is expected, result
    assert result.duration < TIMEOUT + 0.5  # the poller's own deadline
    assert elapsed < TIMEOUT + 1.5  # and the caller's, with room for busy cores
    assert result.chain == ()


def test_connect_that_never_completes_ends_within_timeout() -> None:
    backlog = hostile.FullBacklog("127.0.2.5")
    try:
        start = time.monotonic()
        result = probe_tls("127.0.2.5", backlog.port, "mail.contoso.com", TIMEOUT, TlsClient())
        elapsed = time.monotonic() - start
    finally:
        backlog.close()
    assert result.reason is TlsReason.TIMEOUT, result
    assert result.detail == f"no TCP connection within {TIMEOUT:g}s"
    assert TIMEOUT - 0.05 < result.duration < TIMEOUT + 0.5  # the poller's deadline
    assert elapsed < TIMEOUT + 1.5


def test_a_default_socket_timeout_does_not_shorten_the_deadline(peer) -> None:
    """socket.setdefaulttimeout() elsewhere in the process must not change the probe."""
    p = peer(hostile.silent)
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(0.2)
    try:
        start = time.monotonic()
        result = probe_tls("127.0.2.1", p.port, "mail.contoso.com", TIMEOUT, TlsClient())
        elapsed = time.monotonic() - start
    finally:
        socket.setdefaulttimeout(previous)
    assert result.reason is TlsReason.TIMEOUT
    assert result.detail == f"TLS handshake not finished within {TIMEOUT:g}s"
    assert elapsed > TIMEOUT - 0.05


def test_handshake_ok_returns_whole_chain(make_tls, issuing_ca: CA) -> None:
    tls = make_tls("127.0.2.2", issuing_ca.issue("mail.contoso.com"))
    result = probe_tls("127.0.2.2", tls.port, "mail.contoso.com", TIMEOUT, TlsClient())
    assert result.reason is TlsReason.OK
    assert len(result.chain) == 2
    assert result.protocol in ("TLSv1.2", "TLSv1.3")


def _tls12_cbc_sha_only(context: ssl.SSLContext) -> None:
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers("ECDHE-ECDSA-AES128-SHA")


def test_a_suite_windows_still_offers_is_spoken(make_tls, issuing_ca: CA) -> None:
    """An older Exchange (2010 on Server 2008 R2) offers CBC-SHA suites, which
    Windows clients still offer too, so Outlook connects and checks the name: the
    probe must see the chain rather than report a failed handshake. Python's ssl
    module leaves these suites out of its client defaults; the probe's client
    (pyOpenSSL) keeps OpenSSL's."""
    tls = make_tls("127.0.2.6", issuing_ca.issue("mail.contoso.com"), tweak=_tls12_cbc_sha_only)
    result = probe_tls("127.0.2.6", tls.port, "mail.contoso.com", TIMEOUT, TlsClient())
    assert result.reason is TlsReason.OK, result
    assert (result.protocol, result.cipher) == ("TLSv1.2", "ECDHE-ECDSA-AES128-SHA")
    assert len(result.chain) == 2


def _tls12_null_cipher_only(context: ssl.SSLContext) -> None:
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers("ECDHE-ECDSA-NULL-SHA:@SECLEVEL=0")


def test_a_suite_no_client_offers_is_still_a_failed_handshake(make_tls, issuing_ca: CA) -> None:
    """The control beside the test above: keeping OpenSSL's suites is not accepting
    anything. A server offering only an unencrypted suite, which neither Windows nor
    OpenSSL's defaults offer, fails the handshake with the server's alert."""
    issued = issuing_ca.issue("mail.contoso.com")
    tls = make_tls("127.0.2.8", issued, tweak=_tls12_null_cipher_only)
    result = probe_tls("127.0.2.8", tls.port, "mail.contoso.com", TIMEOUT, TlsClient())
    assert result.reason is TlsReason.HANDSHAKE_FAILED, result
    assert "handshake failure" in (result.detail or ""), result
    assert result.chain == ()


def test_one_hanging_endpoint_does_not_affect_the_others(
    peer, make_tls, make_dns, write_config, root_file, issuing_ca: CA
) -> None:
    silent = peer(hostile.silent, "127.0.2.3")
    good = make_tls("127.0.2.4", issuing_ca.issue("mail.contoso.com"))
    dns = make_dns(
        {
            "mail.contoso.com": ["127.0.2.4"],
            "hang.contoso.local": ["127.0.2.3"],
            "exch01.contoso.local": ["127.0.2.4"],
            "exch02.contoso.local": ["127.0.2.3"],
        }
    )
    servers = [
        {
            "name": "EXCH02",
            "fqdn": "exch02.contoso.local",
            "urls": {"ews": f"https://hang.contoso.local:{silent.port}/EWS/Exchange.asmx"},
        },
        {
            "name": "EXCH01",
            "fqdn": "exch01.contoso.local",
            "urls": {
                "ews": f"https://mail.contoso.com:{good.port}/EWS/Exchange.asmx",
                "oab": f"http://mail.contoso.com:{good.port}/OAB",
            },
        },
    ]
    config = lab_config(servers, dns, [root_file])
    config["probe"] = {"interval": "1m", "timeout": "1s", "concurrency": 4}
    start = time.monotonic()
    snapshot = run(write_config(config))
    assert time.monotonic() - start < 3
    hung, ok, plain = snapshot.endpoints
    assert hung.verdict.checks[Check.PROBE_OK].reason is Reason.TIMEOUT
    assert hung.status is Status.CRITICAL
    assert ok.status is Status.OK
    assert plain.verdict.checks[Check.PROBE_OK].reason is Reason.PLAIN_HTTP
    assert plain.verdict.checks[Check.PROBE_OK].ok is None
    assert plain.verdict.checks[Check.DNS_MATCH].ok is True
    assert plain.status is Status.WARNING
    assert snapshot.status is Status.CRITICAL


def test_dns_timeout_is_bounded() -> None:
    silent = hostile.SilentUdp()
    try:
        resolver = DnsResolver((("127.0.0.1", silent.port),), 0.5)
        start = time.monotonic()
        answer = resolver.lookup("mail.contoso.com")
        assert answer.reason is DnsReason.TIMEOUT
        assert time.monotonic() - start < 2.5  # 0.5 s asked; a hang would be far longer
    finally:
        silent.close()


def test_dns_answers(make_dns) -> None:
    dns = make_dns(
        {"mail.contoso.com": ["127.0.1.1"], "v6.contoso.com": ["::1"]},
        extra=["--txt-record=text.contoso.com,hello"],
    )
    resolver = DnsResolver((("127.0.0.1", dns.port),), 2.0)
    assert resolver.lookup("mail.contoso.com").addresses == ("127.0.1.1",)
    assert resolver.lookup("MAIL.contoso.com.").addresses == ("127.0.1.1",)
    assert resolver.lookup("v6.contoso.com").addresses == ("::1",)
    assert resolver.lookup("nothere.contoso.com").reason is DnsReason.NXDOMAIN
    assert resolver.lookup("text.contoso.com").reason is DnsReason.NO_ADDRESS
    assert resolver.lookup("10.1.2.3").reason is DnsReason.IP_LITERAL


def test_dns_refused_is_an_error(make_dns) -> None:
    dns = make_dns({"mail.contoso.com": ["127.0.1.1"]})
    resolver = DnsResolver((("127.0.0.1", dns.port),), 2.0)
    # Outside the --local zones dnsmasq has no upstream and refuses.
    answer = resolver.lookup("www.fabrikam.test")
    assert answer.reason is DnsReason.ERROR
    assert answer.detail


def test_a_truncated_answer_is_asked_again_over_tcp(make_dns) -> None:
    """Forty A records do not fit 512 bytes: dnsmasq sets TC and the stub asks over TCP."""
    many = [f"127.0.3.{i}" for i in range(1, 41)]
    dns = make_dns(
        {"mail.contoso.com": ["127.0.1.1"]},
        extra=[f"--host-record=big.contoso.com,{a}" for a in many] + ["--log-queries"],
    )
    resolver = DnsResolver((("127.0.0.1", dns.port),), 2.0)
    answer = resolver.lookup("big.contoso.com")

    dns.stop()
    assert answer.reason is DnsReason.OK
    assert sorted(answer.addresses) == sorted(many)
    log = dns.process.stdout.read().decode() if dns.process.stdout else ""
    assert sum("query[A] big.contoso.com" in line for line in log.splitlines()) == 2  # UDP, TCP


def test_threads_wanting_one_name_share_one_lookup(make_dns) -> None:
    """Sixteen threads start on a server's URLs at once: one A and one AAAA query."""
    dns = make_dns(
        {"mail.contoso.com": ["127.0.1.1"], "other.contoso.com": ["127.0.1.2"]},
        extra=["--log-queries"],
    )
    resolver = DnsResolver((("127.0.0.1", dns.port),), 2.0)
    start = threading.Barrier(16)

    def one(index: int) -> tuple[str, ...]:
        start.wait()
        return resolver.lookup("mail.contoso.com" if index else "other.contoso.com").addresses

    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(one, range(16)))

    dns.stop()
    assert answers == [("127.0.1.2",)] + [("127.0.1.1",)] * 15
    log = dns.process.stdout.read().decode() if dns.process.stdout else ""
    asked = [line for line in log.splitlines() if "query[" in line]
    assert sum("query[A] mail.contoso.com" in line for line in asked) == 1, asked
    assert sum("query[AAAA] mail.contoso.com" in line for line in asked) == 1, asked
    assert sum("other.contoso.com" in line for line in asked) == 2, asked


def test_server_address_unknown_still_judges_certificate(
    make_tls, make_dns, write_config, root_file, issuing_ca: CA
) -> None:
    tls = make_tls("127.0.2.5", issuing_ca.issue("mail.contoso.com"))
    dns = make_dns({"mail.contoso.com": ["127.0.2.5"]})
    config = lab_config(
        [
            {
                "name": "EXCH09",
                "fqdn": "exch09.contoso.local",
                "urls": {"ews": f"https://mail.contoso.com:{tls.port}/EWS"},
            }
        ],
        dns,
        [root_file],
    )
    (report,) = run(write_config(config)).endpoints
    assert report.verdict.checks[Check.DNS_MATCH].ok is None
    assert report.verdict.checks[Check.DNS_MATCH].reason is Reason.SERVER_ADDRESS_UNKNOWN
    assert report.verdict.checks[Check.NAME_MATCH].ok is True


def test_nothing_resolves_is_a_probe_failure(make_dns, write_config, root_file) -> None:
    dns = make_dns({})
    config = lab_config(
        [
            {
                "name": "EXCH09",
                "fqdn": "exch09.contoso.local",
                "urls": {"ews": "https://mail.contoso.com/EWS"},
            }
        ],
        dns,
        [root_file],
    )
    (report,) = run(write_config(config)).endpoints
    assert report.verdict.checks[Check.PROBE_OK].reason is Reason.SERVER_ADDRESS_UNKNOWN
    assert report.verdict.checks[Check.DNS_MATCH].reason is Reason.NXDOMAIN
    assert report.status is Status.CRITICAL


def test_a_and_aaaa_queries_never_share_an_id(make_dns, monkeypatch) -> None:
    """Regression: equal random IDs made one answer stand for both queries."""
    import secrets

    dns = make_dns({"both.contoso.com": ["127.0.1.1", "::1"]})
    monkeypatch.setattr(secrets, "randbits", lambda bits: 65535)  # force wrap-around too
    resolver = DnsResolver((("127.0.0.1", dns.port),), 2.0)
    assert set(resolver.lookup("both.contoso.com").addresses) == {"127.0.1.1", "::1"}


PATHS = {
    "autodiscover": "/Autodiscover/Autodiscover.xml",
    "ews": "/EWS/Exchange.asmx",
    "oab": "/OAB",
    "owa": "/owa",
    "ecp": "/ecp",
    "eas": "/Microsoft-Server-ActiveSync",
    "mapi": "/mapi",
    "outlook_anywhere": "/rpc/rpcproxy.dll",
}


def test_a_servers_urls_on_one_name_cost_one_handshake(
    make_tls, make_dns, write_config, root_file, issuing_ca: CA
) -> None:
    """Issue #18: eight URLs on one (address, port, SNI) share one handshake and every
    endpoint gets its facts; a URL on another name (another SNI) gets its own."""
    tls = make_tls("127.0.7.1", issuing_ca.issue("mail.contoso.com", "exch01.contoso.local"))
    dns = make_dns({"mail.contoso.com": ["127.0.7.1"], "exch01.contoso.local": ["127.0.7.1"]})
    urls = {c: f"https://mail.contoso.com:{tls.port}{p}" for c, p in PATHS.items()}
    urls["ews"] = f"https://exch01.contoso.local:{tls.port}/EWS/Exchange.asmx"
    entry = {"name": "EXCH01", "fqdn": "exch01.contoso.local", "urls": urls}
    snapshot = run(write_config(lab_config([entry], dns, [root_file])))
    assert len(snapshot.endpoints) == 8
    assert sorted(tls.sni_seen) == ["exch01.contoso.local", "mail.contoso.com"]
    for report in snapshot.endpoints:
        verdict = report.verdict
        assert verdict.status is Status.OK, verdict.checks
        assert verdict.probe.tls.reason is TlsReason.OK
        assert verdict.leaf is not None
