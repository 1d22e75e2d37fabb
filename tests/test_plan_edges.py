"""The plan at its edges (an adversarial review of issues #22 and #23), pure: what a
server presents by name (SNI bindings), IMAP reached by two names, a receive
connector that picks its certificate by name, and a .ps1 that must read the same
in any code page and whose comments cannot hide the code after them."""

from __future__ import annotations

from dataclasses import replace

from cryptography.hazmat.primitives.serialization import Encoding

from exporter.config import Thresholds
from exporter.evaluate.outcome import Status
from exporter.evaluate.verdict import evaluate_endpoint
from exporter.model import Component, Endpoint, ExchangeVersion, Server
from exporter.probe.results import DnsAnswer, DnsReason, ProbeResult, TlsReason, TlsResult
from exporter.remediation import StepKind, plan_organisation, remediation_for
from exporter.render.powershell import render_powershell
from exporter.snapshot import EndpointReport, Snapshot
from exporter.truststore import TrustStore
from tests.pki import CA, DAY, NOW, Issued

ROOT = CA("Fabrikam Root")
STORE = TrustStore((ROOT.cert,), ())


def chain(issued: Issued) -> tuple[bytes, ...]:
    return tuple(c.public_bytes(Encoding.DER) for c in issued.chain)


def probe(server: Server, component: Component, url: str, issued: Issued, **kw) -> ProbeResult:
    endpoint = Endpoint.build(server, component, url, **kw)
    assert endpoint.target is not None
    host, port = endpoint.target.host, endpoint.target.port
    address = server.addresses[0]
    return ProbeResult(
        endpoint=endpoint,
        url_dns=DnsAnswer(host, (address,), DnsReason.OK),
        server_addresses=server.addresses,
        server_dns=None,
        address=address,
        tls=TlsResult(address, port, host, TlsReason.OK, chain(issued)),
    )


def plan(probes: list[ProbeResult]):
    judged = [evaluate_endpoint(p, STORE, Thresholds(), NOW) for p in probes]
    return plan_organisation(
        judged,
        lambda hosts: {h: DnsAnswer(h, ("10.0.0.1",), DnsReason.OK) for h in hosts},
        STORE,
        Thresholds(),
        NOW,
        {},
    )


def commands(result) -> list[str]:
    _, p = result
    return [s.text for steps in p.servers.values() for s in steps if s.kind is not StepKind.ADVICE]


EXCH01 = Server("EXCH01", "exch01.fabrikam.test", ("10.0.0.1",), ExchangeVersion.E2019)
EXCH02 = Server("EXCH02", "exch02.fabrikam.test", ("10.0.0.2",), ExchangeVersion.E2019)


def test_a_moved_url_meets_what_its_server_presents_for_the_new_name() -> None:
    """EXCH01 presents A (mail) for its own name and B (webmail) for mail: host
    bindings. Moving EWS onto mail would meet B, which lacks mail: no move."""
    a = ROOT.issue("mail.fabrikam.test")
    b = ROOT.issue("webmail.fabrikam.test")
    result = plan(
        [
            probe(EXCH01, Component.EWS, "https://exch01.fabrikam.test/EWS/Exchange.asmx", a),
            probe(EXCH01, Component.OWA, "https://mail.fabrikam.test/owa", b),
        ]
    )
    assert commands(result) == []
    # Control: one certificate for every name, and the same move is a command.
    same = plan(
        [
            probe(EXCH01, Component.EWS, "https://exch01.fabrikam.test/EWS/Exchange.asmx", a),
            probe(EXCH01, Component.OWA, "https://mail.fabrikam.test/owa", a),
        ]
    )
    assert commands(same) == [
        "Set-WebServicesVirtualDirectory -Identity 'EXCH01\\EWS (Default Web Site)' "
        "-InternalUrl 'https://mail.fabrikam.test/EWS/Exchange.asmx'"
    ]


def test_imap_is_named_once_per_server() -> None:
    """IMAP reached by two names: one Set-ImapSettings, never two that override."""
    good = ROOT.issue("imap.fabrikam.test", "mail.fabrikam.test")
    old = ROOT.issue("imap.fabrikam.test", "mail.fabrikam.test", not_after=NOW + 5 * DAY)
    result = plan(
        [
            probe(EXCH01, Component.IMAP, "imaps://imap.fabrikam.test", good),
            probe(EXCH02, Component.IMAP, "imaps://imap.fabrikam.test", old),
            probe(EXCH02, Component.POP, "pop3s://mail.fabrikam.test", old),
            probe(EXCH01, Component.POP, "pop3s://mail.fabrikam.test", good),
        ]
    )
    named = [c for c in commands(result) if c.startswith("Set-ImapSettings")]
    assert named == ["Set-ImapSettings -Server 'EXCH02' -X509CertificateName 'imap.fabrikam.test'"]


def test_a_connector_that_names_its_certificate_is_not_bound_blindly() -> None:
    good = ROOT.issue("smtp.fabrikam.test")
    old = ROOT.issue("smtp.fabrikam.test", not_after=NOW + 5 * DAY)
    named = "<I>CN=Fabrikam Root<S>CN=smtp.fabrikam.test"
    result = plan(
        [
            probe(EXCH01, Component.SMTP, "smtp://smtp.fabrikam.test", good),
            probe(
                EXCH02, Component.SMTP, "smtp://smtp.fabrikam.test", old, tls_certificate_name=named
            ),
        ]
    )
    assert not any(c.startswith("Enable-ExchangeCertificate") for c in commands(result))
    # Control: without the connector's name the bind is a command.
    plain = plan(
        [
            probe(EXCH01, Component.SMTP, "smtp://smtp.fabrikam.test", good),
            probe(EXCH02, Component.SMTP, "smtp://smtp.fabrikam.test", old),
        ]
    )
    assert any(c.startswith("Enable-ExchangeCertificate -Server 'EXCH02'") for c in commands(plain))


def _script(result) -> str:
    verdicts, p = result
    reports = tuple(EndpointReport(v, remediation_for(p, v)) for v in verdicts)
    snapshot = Snapshot(reports, (), NOW, 0.0, Status.CRITICAL, plan=p)
    return render_powershell(snapshot)


def test_the_script_is_ascii_and_its_headers_cannot_pass_for_a_signature() -> None:
    """Windows PowerShell reads a .ps1 without a byte-order mark in its ANSI code page,
    and takes a comment close to '# SIG # Begin signature block' for a signature:
    every value beyond ASCII is a [char] code, and each header is long and fixed."""
    cert = ROOT.issue("mail.fabrikam.test")
    server = replace(EXCH01, name="SIG # Begin signature block")
    result = plan(
        [
            probe(
                server,
                Component.EWS,
                "https://exch01.fabrikam.test/EWS/Exchange.asmx",
                cert,
                identity="EWS\u00d2;Invoke-Something;# (Default Web Site)",
            )
        ]
    )
    script = _script(result)
    assert script.isascii()
    assert script.encode("ascii").decode("cp1252") == script
    header = next(line for line in script.splitlines() if line.startswith("# ====="))
    assert header == (
        "# ===== Server SIG # Begin signature block (exch01.fabrikam.test): runs on its own"
    )
    assert "[char]0x00D2" in script
    # Each section stops at a failing step.
    assert "$ErrorActionPreference = 'Stop'" in script.splitlines()
