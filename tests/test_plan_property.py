"""The plan over generated organisations (issue #22), pure: servers, namespaces,
certificates with random names, dates and trust, URLs and DNS answers. For every
plan the product prints: applying its proven actions in the model leaves none of
the findings its commands answer and creates none; and no printed command binds a
certificate that is expired, untrusted, or lacks a name the server's URLs use."""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from exporter.certfacts import parse_certificate
from exporter.config import Thresholds
from exporter.evaluate.names import covers
from exporter.evaluate.verdict import evaluate_endpoint
from exporter.model import Component, Endpoint, ExchangeVersion, Server
from exporter.probe.results import DnsAnswer, DnsReason, ProbeResult, TlsReason, TlsResult
from exporter.remediation import StepKind, plan_organisation
from exporter.remediation.whatif import OrgModel, findings, rekey, what_if
from exporter.truststore import TrustStore
from tests.pki import CA, DAY, NOW, Issued
from tests.powershell_tokens import arguments

ROOT = CA("Fabrikam Root")
STRANGER = CA("Stranger Root")
STORE = TrustStore((ROOT.cert,), ())
HOSTS = ("mail.fabrikam.test", "autodiscover.fabrikam.test", "webmail.fabrikam.test")
ADDRESSES = ("10.1.0.1", "10.1.0.2", "10.1.0.3")
ELSEWHERE = "203.0.113.9"


@dataclass(frozen=True)
class Pooled:
    issued: Issued
    trusted: bool
    expired: bool


def _pool() -> list[Pooled]:
    out = []
    shapes = [
        ((HOSTS[0],), 300),
        ((HOSTS[0], HOSTS[1]), 200),
        ((HOSTS[0], HOSTS[1], HOSTS[2]), 100),
        (("exch01.fabrikam.test",), 300),
        (("*.fabrikam.test",), 250),
        ((HOSTS[1],), 10),  # inside expiry_warning
        ((HOSTS[0], HOSTS[2]), -3),  # expired
    ]
    for names, days in shapes:
        for ca, trusted in ((ROOT, True), (STRANGER, False)):
            issued = ca.issue(*names, not_before=NOW - 30 * DAY, not_after=NOW + days * DAY)
            out.append(Pooled(issued, trusted, days < 0))
    return out


POOL = _pool()
BY_THUMB = {
    p.issued.cert.fingerprint(hashes.SHA1()).hex().upper(): p  # noqa: S303 - thumbprint
    for p in POOL
}
COMPONENTS = (Component.AUTODISCOVER, Component.EWS, Component.OAB)


@st.composite
def organisations(draw: st.DrawFn) -> tuple[list[ProbeResult], dict[str, DnsAnswer]]:
    count = draw(st.integers(1, 3))
    probes = []
    for n in range(count):
        server = Server(
            f"EXCH0{n + 1}", f"exch0{n + 1}.fabrikam.test", (ADDRESSES[n],), ExchangeVersion.E2019
        )
        pooled = draw(st.sampled_from(POOL))
        chain = tuple(c.public_bytes(Encoding.DER) for c in pooled.issued.chain)
        for component in COMPONENTS:
            host = draw(st.sampled_from((*HOSTS, server.fqdn)))
            endpoint = Endpoint.build(server, component, f"https://{host}/{component.value}")
            probes.append(
                ProbeResult(
                    endpoint=endpoint,
                    url_dns=None,
                    server_addresses=server.addresses,
                    server_dns=None,
                    address=ADDRESSES[n],
                    tls=TlsResult(ADDRESSES[n], 443, host, TlsReason.OK, chain),
                )
            )
    dns: dict[str, DnsAnswer] = {}
    for host in (*HOSTS, "exch01.fabrikam.test", "exch02.fabrikam.test", "exch03.fabrikam.test"):
        kind = draw(st.sampled_from(("missing", "some", "all", "elsewhere")))
        if kind == "missing":
            dns[host] = DnsAnswer(host, (), DnsReason.NXDOMAIN)
        elif kind == "elsewhere":
            dns[host] = DnsAnswer(host, (ELSEWHERE,), DnsReason.OK)
        else:
            chosen = ADDRESSES[:1] if kind == "some" else ADDRESSES[:count]
            dns[host] = DnsAnswer(host, chosen, DnsReason.OK)
    return [_with_dns(p, dns) for p in probes], dns


def _with_dns(probe: ProbeResult, dns: dict[str, DnsAnswer]) -> ProbeResult:
    from dataclasses import replace

    assert probe.endpoint.target is not None
    return replace(probe, url_dns=dns[probe.endpoint.target.host])


@given(organisations())
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_every_printed_plan_is_proven(org: tuple[list[ProbeResult], dict[str, DnsAnswer]]) -> None:
    check(*org)


def check(probes: list[ProbeResult], dns: dict[str, DnsAnswer]) -> None:
    thresholds = Thresholds()
    judged = [evaluate_endpoint(p, STORE, thresholds, NOW) for p in probes]

    def lookup(hosts):
        return {h: dns.get(h, DnsAnswer(h, (), DnsReason.NXDOMAIN)) for h in hosts}

    before, plan = plan_organisation(judged, lookup, STORE, thresholds, NOW, {})
    answers = {v.probe.url_dns.name: v.probe.url_dns for v in judged if v.probe.url_dns}
    answers.update(lookup(sorted(dns)))
    model = OrgModel(judged, answers, STORE, thresholds, NOW, {})
    after_verdicts = what_if(model, plan.actions)
    after = rekey(before, after_verdicts)
    # No new finding anywhere.
    assert set(after) <= set(findings(before)), sorted(set(after) - set(findings(before)))
    printed = [s for steps in plan.servers.values() for s in steps if s.kind is not StepKind.ADVICE]
    kinds = sorted({s.text.split(" ", 1)[0] for s in printed})
    event(f"printed: {', '.join(kinds) or 'nothing'}")
    refused = any(
        s.text.startswith("Not written as a command") for ss in plan.servers.values() for s in ss
    )
    event(f"a refused fix: {refused}")
    for step in printed:
        # What every printed command answers is gone.
        assert not set(step.addresses) & set(after), step
    # No printed command binds an expired, untrusted or name-lacking certificate.
    for step in printed:
        if not step.text.startswith("Enable-ExchangeCertificate"):
            continue
        _, params = arguments(step.text)
        server, thumbprint = params["Server"], params["Thumbprint"]
        assert server is not None
        assert thumbprint is not None
        pooled = BY_THUMB[thumbprint[1]]
        assert pooled.trusted
        assert not pooled.expired
        leaf = parse_certificate(pooled.issued.cert.public_bytes(Encoding.DER))
        for verdict in after_verdicts:
            endpoint = verdict.probe.endpoint
            if endpoint.server.name == server[1] and endpoint.target is not None:
                assert covers(leaf, endpoint.target.host), (endpoint.url, step.text)
