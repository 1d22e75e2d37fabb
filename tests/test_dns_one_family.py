"""One address family's answer is enough (issue #26, item 6): a name whose A query
answers with an address resolves, whatever its AAAA query met (REFUSED, NXDOMAIN,
SERVFAIL, silence), and the other way round. NXDOMAIN for one type beside an address
for the other is not "does not exist", and an unanswered type is not "no address".

dnsmasq refuses AAAA itself beside ``--address=/name/IPv4`` when it has no upstream;
for the other answers a small front (tests/peers/splitdns.py) says them for one type
and relays the other to dnsmasq. Each case has its control: the same server asked
for a name it does not know."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from exporter.evaluate.outcome import Check, Reason, Status
from exporter.probe.dns import DnsResolver
from exporter.probe.results import DnsReason
from exporter.remediation import StepKind
from tests.conftest import lab_config, run
from tests.peers.dnsmasq import Dnsmasq
from tests.peers.splitdns import SplitDns
from tests.pki import CA
from tests.test_dns_outage import ADD_RECORD, everything

ADDRESS = "127.0.8.21"


@pytest.fixture
def nameserver(make_dns) -> Iterator[Callable[..., Any]]:
    """``(mode, records)``: a nameserver holding ``records`` that answers as ``mode``
    says: ``aaaa_refused`` (dnsmasq alone), ``plain`` (dnsmasq alone, the control),
    or ``TYPE_RCODE`` (a front saying RCODE, or nothing for ``drop``, to TYPE)."""
    fronts: list[SplitDns] = []

    def make(mode: str, records: dict[str, list[str]]) -> Any:
        if mode == "aaaa_refused":
            v4 = [f"--address=/{name}/{a[0]}" for name, a in records.items()]
            return make_dns({}, zones=(), extra=v4)
        server: Dnsmasq = make_dns(records)
        if mode == "plain":
            return server
        rdtype, _, rcode = mode.partition("_")
        front = SplitDns(
            (server.address, server.port), rdtype.upper(), None if rcode == "drop" else rcode
        )
        fronts.append(front)
        return front

    yield make
    for front in fronts:
        front.close()


def _resolver(server: Any, timeout: float = 2.0) -> DnsResolver:
    return DnsResolver(((server.address, server.port),), timeout)


@pytest.mark.parametrize(
    ("mode", "records", "reason", "addresses"),
    [
        ("plain", {"mail.contoso.com": [ADDRESS]}, DnsReason.OK, (ADDRESS,)),
        ("aaaa_refused", {"mail.contoso.com": [ADDRESS]}, DnsReason.OK, (ADDRESS,)),
        ("aaaa_nxdomain", {"mail.contoso.com": [ADDRESS]}, DnsReason.OK, (ADDRESS,)),
        ("aaaa_servfail", {"mail.contoso.com": [ADDRESS]}, DnsReason.OK, (ADDRESS,)),
        ("a_nxdomain", {"mail.contoso.com": ["fd00::21"]}, DnsReason.OK, ("fd00::21",)),
        ("a_refused", {"mail.contoso.com": ["fd00::21"]}, DnsReason.OK, ("fd00::21",)),
        # An NXDOMAIN for A beside NODATA for AAAA: the name exists, with no address.
        ("a_nxdomain", {"mail.contoso.com": [ADDRESS]}, DnsReason.NO_ADDRESS, ()),
    ],
)
def test_one_familys_address_is_enough(nameserver, mode, records, reason, addresses) -> None:
    server = nameserver(mode, records)
    resolver = _resolver(server)
    answer = resolver.lookup("mail.contoso.com")
    assert (answer.reason, answer.addresses) == (reason, addresses), answer
    assert resolver.unanswered() == []


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        ("plain", DnsReason.NXDOMAIN),
        ("aaaa_nxdomain", DnsReason.NXDOMAIN),
        ("aaaa_servfail", DnsReason.ERROR),  # A NXDOMAIN, AAAA unanswered: unknown
        ("a_nxdomain", DnsReason.NXDOMAIN),
        ("aaaa_refused", DnsReason.ERROR),  # dnsmasq refuses both types of this one
    ],
)
def test_control_a_name_the_server_does_not_hold(nameserver, mode, reason) -> None:
    server = nameserver(mode, {"mail.contoso.com": [ADDRESS]})
    resolver = _resolver(server)
    answer = resolver.lookup("nothere.contoso.com")
    assert answer.reason is reason, answer
    assert answer.addresses == ()
    # Only a name no server answered at all counts as the DNS failing.
    assert bool(resolver.unanswered()) is (mode == "aaaa_refused")


def test_an_unanswered_type_beside_no_address_is_not_judged(nameserver) -> None:
    """A refused, AAAA without an address: nothing says the name has no IPv4
    address, so no record may be suggested for it; and it is not an outage."""
    server = nameserver("a_refused", {"mail.contoso.com": [ADDRESS]})
    resolver = _resolver(server)
    answer = resolver.lookup("mail.contoso.com")
    assert answer.reason is DnsReason.ERROR, answer
    assert "answered REFUSED for A" in (answer.detail or ""), answer.detail
    assert resolver.unanswered() == []


def test_a_dropped_aaaa_waits_its_share_then_keeps_the_a_answer(nameserver) -> None:
    server = nameserver("aaaa_drop", {"mail.contoso.com": [ADDRESS]})
    resolver = _resolver(server, timeout=1.0)
    start = time.monotonic()
    answer = resolver.lookup("mail.contoso.com")
    assert time.monotonic() - start < 1.8
    assert (answer.reason, answer.addresses) == (DnsReason.OK, (ADDRESS,)), answer


@pytest.fixture
def lab(nameserver, make_tls, write_config, root_file, issuing_ca: CA):
    """EXCH01, whose address comes from DNS only (so an unanswered name means it is
    not probed), on mail.contoso.com; and mail2.contoso.com, a name no DNS holds."""

    def build(mode: str) -> Any:
        tls = make_tls(ADDRESS, issuing_ca.issue("mail.contoso.com", "mail2.contoso.com"))
        records = {"mail.contoso.com": [ADDRESS], "exch01.contoso.local": [ADDRESS]}
        server = nameserver(mode, records)
        urls = {
            "ews": f"https://mail.contoso.com:{tls.port}/EWS/Exchange.asmx",
            "oab": f"https://mail2.contoso.com:{tls.port}/OAB",
        }
        entry = {"name": "EXCH01", "fqdn": "exch01.contoso.local", "urls": urls}
        config = lab_config([entry], server, [root_file])
        snapshot = run(write_config(config))
        return {r.verdict.probe.endpoint.component.value: r for r in snapshot.endpoints}, snapshot

    return build


@pytest.mark.parametrize("mode", ["plain", "aaaa_refused", "aaaa_nxdomain"])
def test_a_name_whose_aaaa_fails_is_probed_and_judged(lab, mode: str) -> None:
    reports, snapshot = lab(mode)
    ews = reports["ews"]
    dns_match = ews.verdict.checks[Check.DNS_MATCH]
    assert dns_match.ok is True, dns_match
    assert ews.verdict.checks[Check.PROBE_OK].ok is True, ews.verdict.checks[Check.PROBE_OK]
    assert ews.verdict.checks[Check.NAME_MATCH].ok is True
    assert ews.status is Status.OK, ews.verdict.checks
    dns_steps = [s.text for s in ews.remediation.steps if s.kind is StepKind.DNS]
    assert dns_steps == []
    assert f"{ADD_RECORD}A -ZoneName 'contoso.com' -Name 'mail' " not in everything(snapshot)

    # The control in the same run: mail2.contoso.com, which this DNS does not hold.
    oab = reports["oab"].verdict.checks[Check.DNS_MATCH]
    if mode == "aaaa_refused":  # dnsmasq refuses both of its types: the DNS failed
        assert (oab.ok, oab.reason) == (None, Reason.DNS_ERROR)
        assert snapshot.dns.unanswered == 1
        assert ADD_RECORD not in everything(snapshot)
    else:  # NXDOMAIN for both: it does not exist, and its record is the fix
        assert (oab.ok, oab.reason) == (False, Reason.NXDOMAIN)
        assert snapshot.dns.unanswered == 0
        steps = [s.text for s in reports["oab"].remediation.steps if s.kind is StepKind.DNS]
        assert steps == [
            "Add-DnsServerResourceRecordA -ZoneName 'contoso.com' -Name 'mail2' "
            f"-IPv4Address '{ADDRESS}'"
        ]
