"""Many names at once from one thread (exporter/probe/dnsbatch.py), against dnsmasq
and misbehaving nameservers: every name is asked once, each gets its own answer,
a failing nameserver hands its names to the next, and nothing is lost."""

from __future__ import annotations

import time

from exporter.config import load_config
from exporter.evaluate.outcome import Status
from exporter.pipeline import run_cycle
from exporter.probe import dnsbatch
from exporter.probe.dns import DnsResolver
from exporter.probe.results import DnsReason
from tests.conftest import lab_config
from tests.peers import hostile
from tests.peers.dnsmasq import free_port


def _asked(dns) -> list[str]:
    dns.stop()
    log = dns.process.stdout.read().decode() if dns.process.stdout else ""
    lines = [line.split("query", 1)[1] for line in log.splitlines() if " query[" in line]
    return [line for line in lines if "ready.invalid" not in line]  # the peer's own check


def test_more_names_than_the_window_each_asked_once(make_dns) -> None:
    records = {f"host{i}.contoso.com": [f"127.0.4.{i + 1}"] for i in range(150)}
    dns = make_dns(records, extra=["--log-queries"])
    resolver = DnsResolver((("127.0.0.1", dns.port),), 2.0)
    assert resolver.window < 150
    names = [*records, "nothere.contoso.com", "10.1.2.3", "bad..name"]
    answers = resolver.resolve_all(names)
    for i in range(150):
        assert answers[f"host{i}.contoso.com"].addresses == (f"127.0.4.{i + 1}",)
    assert answers["nothere.contoso.com"].reason is DnsReason.NXDOMAIN
    assert answers["10.1.2.3"].reason is DnsReason.IP_LITERAL
    assert answers["bad..name"].reason is DnsReason.ERROR
    asked = _asked(dns)
    assert len(asked) == 2 * 151, asked[:5]  # A and AAAA for each real name, once
    assert sum("[A] host7.contoso.com " in line for line in asked) == 1


def test_a_failing_nameserver_hands_its_names_to_the_next(make_dns) -> None:
    good = make_dns({"mail.contoso.com": ["127.0.1.1"]})
    servfail = hostile.BadDns("servfail")
    closed = free_port()  # nothing listens: ICMP port unreachable
    try:
        for first in ((("127.0.0.1", servfail.port)), ("127.0.0.1", closed)):
            resolver = DnsResolver((first, ("127.0.0.1", good.port)), 2.0)
            answer = resolver.lookup("mail.contoso.com")
            assert answer.reason is DnsReason.OK, (first, answer)
            assert answer.addresses == ("127.0.1.1",)
        # Negative control: with only the failing ones, an error naming both.
        resolver = DnsResolver((("127.0.0.1", servfail.port), ("127.0.0.1", closed)), 2.0)
        answer = resolver.lookup("mail.contoso.com")
        assert answer.reason is DnsReason.ERROR
        assert f"127.0.0.1:{servfail.port} answered SERVFAIL" in (answer.detail or "")
        assert f"127.0.0.1:{closed}:" in (answer.detail or "")
    finally:
        servfail.close()


def test_a_silent_first_nameserver_leaves_time_for_the_next(make_dns) -> None:
    """A domain controller's DNS down: clients move on to the next server, and so
    does the exporter, after that server's share of the timeout."""
    good = make_dns({"mail.contoso.com": ["127.0.1.1"]})
    silent, other = hostile.SilentUdp(), hostile.SilentUdp()
    try:
        resolver = DnsResolver((("127.0.0.1", silent.port), ("127.0.0.1", good.port)), 1.0)
        start = time.monotonic()
        answer = resolver.lookup("mail.contoso.com")
        elapsed = time.monotonic() - start
        assert answer.addresses == ("127.0.1.1",), answer
        assert 0.4 < elapsed < 1.0  # half of the second, then the answer (not all of it)
        # Negative control: two silent servers share the one timeout, then give up.
        resolver = DnsResolver((("127.0.0.1", silent.port), ("127.0.0.1", other.port)), 1.0)
        start = time.monotonic()
        answer = resolver.lookup("mail.contoso.com")
        elapsed = time.monotonic() - start
    finally:
        silent.close()
        other.close()
    assert answer.reason is DnsReason.TIMEOUT, answer
    assert answer.detail == "no answer within 1s"
    assert 0.9 < elapsed < 2.0


def _resolve_timed(port: int, timeout: float, count: int) -> tuple[dict, float]:
    """``count`` names n0.contoso.com ... asked of 127.0.0.1:port at once, and how long."""
    resolver = DnsResolver((("127.0.0.1", port),), timeout)
    start = time.monotonic()
    answers = resolver.resolve_all(f"n{i}.contoso.com" for i in range(count))
    return answers, time.monotonic() - start


def test_a_silent_nameserver_times_every_name_out_together() -> None:
    silent = hostile.SilentUdp()
    try:
        answers, elapsed = _resolve_timed(silent.port, 0.5, 100)
    finally:
        silent.close()
    assert {a.reason for a in answers.values()} == {DnsReason.TIMEOUT}
    assert len(answers) == 100
    # Two windows of names, each waiting its 0.5 s: never 100 waits in a row.
    assert elapsed < 1.6


def test_a_tcp_port_that_hangs_costs_one_timeout_not_one_per_name() -> None:
    """Every answer truncated, and TCP 53 silently dropped (a firewall): the first
    name waits out its timeout; the rest learn from it instead of each window of
    names waiting its own."""
    bad = hostile.BadDns("truncated")
    backlog = hostile.FullBacklog("127.0.0.1", bad.port)
    try:
        answers, elapsed = _resolve_timed(bad.port, 1.0, 150)
    finally:
        backlog.close()
        bad.close()
    assert DnsResolver.window < 150
    assert len(answers) == 150
    assert {a.reason for a in answers.values()} <= {DnsReason.ERROR, DnsReason.TIMEOUT}
    learned = [a for a in answers.values() if "over TCP: no answer within 1s" in (a.detail or "")]
    assert len(learned) >= 80, [a.detail for a in answers.values()]
    assert elapsed < 2.5  # one wait of 1 s (and one more at most), not one per window


def test_answers_that_arrive_during_a_tcp_wait_are_not_lost() -> None:
    """One name's TCP retry hangs for its whole timeout; the other names' answers,
    which arrived meanwhile, are read before anything is expired."""
    bad = hostile.BadDns("truncate-big")
    backlog = hostile.FullBacklog("127.0.0.1", bad.port)
    try:
        resolver = DnsResolver((("127.0.0.1", bad.port),), 1.0)
        answers = resolver.resolve_all(
            ["big.contoso.com"] + [f"n{i}.contoso.com" for i in range(30)]
        )
    finally:
        backlog.close()
        bad.close()
    for i in range(30):
        answer = answers[f"n{i}.contoso.com"]
        assert answer.addresses == ("127.0.1.1",), answer
    assert answers["big.contoso.com"].reason in (DnsReason.TIMEOUT, DnsReason.ERROR)


def test_an_unexpected_error_is_each_probes_internal_error(
    make_tls, make_dns, write_config, root_file, issuing_ca, monkeypatch
) -> None:
    tls = make_tls("127.0.4.200", issuing_ca.issue("mail.contoso.com"))
    dns = make_dns({"mail.contoso.com": ["127.0.4.200"]})
    servers = [
        {
            "name": "EXCH01",
            "fqdn": "exch01.contoso.local",
            "addresses": ["127.0.4.200"],
            "urls": {"ews": f"https://mail.contoso.com:{tls.port}/EWS"},
        }
    ]
    path = write_config(lab_config(servers, dns, [root_file]))

    def broken(self, lookups):
        raise RuntimeError("boom")

    monkeypatch.setattr(dnsbatch.Batch, "run", broken)
    (report,) = run_cycle(load_config(str(path))).endpoints
    assert report.status is Status.UNKNOWN
    assert report.verdict.probe.internal_error == "RuntimeError: boom"


def test_a_name_is_asked_once_per_cycle(
    make_tls, make_dns, write_config, root_file, issuing_ca
) -> None:
    """Four servers on one name: one A and one AAAA query for the whole refresh."""
    tls = make_tls("127.0.4.201", issuing_ca.issue("mail.contoso.com"))
    dns = make_dns({"mail.contoso.com": ["127.0.4.201"]}, extra=["--log-queries"])
    servers = [
        {
            "name": f"EXCH{i}",
            "fqdn": "mail.contoso.com",
            "urls": {"ews": f"https://mail.contoso.com:{tls.port}/EWS"},
        }
        for i in range(4)
    ]
    config = load_config(str(write_config(lab_config(servers, dns, [root_file]))))
    snapshot = run_cycle(config)
    assert [r.status for r in snapshot.endpoints] == [Status.OK] * 4
    asked = _asked(dns)
    assert len(asked) == 2, asked  # one A, one AAAA
