"""Remediation: the KB 940726 steps, filled in for the server and component, asserted
command by command. Remediation is pure, so these tests feed it probe facts
directly (as a probe would return them), plan one server's organisation and compare
exact text. Every value from outside is a single-quoted literal
(remediation/command.py)."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from exporter.config import Thresholds
from exporter.evaluate.verdict import evaluate_endpoint
from exporter.model import Component, Endpoint, ExchangeVersion, Server
from exporter.probe.results import DnsAnswer, DnsReason, ProbeResult, TlsReason, TlsResult
from exporter.remediation import StepKind, plan_organisation, remediation_for
from exporter.remediation.command import render
from exporter.remediation.kb940726 import set_url_command
from exporter.truststore import TrustStore
from tests.pki import CA, NOW, Issued

ROOT = CA("Contoso Root CA")
MAIL = ROOT.issue("mail.contoso.com", "autodiscover.contoso.com")
STORE = TrustStore((ROOT.cert,), ())
ADDR = "10.0.0.21"


def remediate(
    component: Component,
    url: str,
    *,
    cert: Issued = MAIL,
    version: ExchangeVersion | None = ExchangeVersion.E2007,
    suggested_dns: tuple[str, ...] = (ADDR,),
    external_url: str | None = None,
    identity: str | None = None,
):
    server = Server("EXCH01", "exch01.contoso.local", (ADDR,), version)
    endpoint = Endpoint.build(server, component, url, external_url=external_url, identity=identity)
    assert endpoint.target is not None
    probe = ProbeResult(
        endpoint=endpoint,
        url_dns=DnsAnswer(endpoint.target.host, (ADDR,), DnsReason.OK),
        server_addresses=(ADDR,),
        server_dns=None,
        address=ADDR,
        tls=TlsResult(
            ADDR,
            443,
            endpoint.target.host,
            TlsReason.OK,
            tuple(c.public_bytes(Encoding.DER) for c in cert.chain),
        ),
    )
    verdict = evaluate_endpoint(probe, STORE, Thresholds(), NOW)

    def lookup(hosts):
        reason = DnsReason.OK if suggested_dns else DnsReason.NXDOMAIN
        return {h: DnsAnswer(h, suggested_dns, reason) for h in hosts}

    verdicts, plan = plan_organisation([verdict], lookup, STORE, Thresholds(), NOW, {})
    return remediation_for(plan, verdicts[0])


KB_STEPS = [
    (
        Component.AUTODISCOVER,
        "https://exch01.contoso.local/autodiscover/autodiscover.xml",
        "Set-ClientAccessServer -Identity 'EXCH01' -AutodiscoverServiceInternalUri "
        "'https://mail.contoso.com/autodiscover/autodiscover.xml'",
    ),
    (
        Component.EWS,
        "https://exch01.contoso.local/ews/exchange.asmx",
        "Set-WebServicesVirtualDirectory -Identity 'EXCH01\\EWS (Default Web Site)' "
        "-InternalUrl 'https://mail.contoso.com/ews/exchange.asmx'",
    ),
    (
        Component.OAB,
        "https://exch01.contoso.local/oab",
        "Set-OABVirtualDirectory -Identity 'EXCH01\\OAB (Default Web Site)' "
        "-InternalUrl 'https://mail.contoso.com/oab'",
    ),
    (
        Component.UM,
        "https://exch01.contoso.local/unifiedmessaging/service.asmx",
        "Set-UMVirtualDirectory -Identity 'EXCH01\\UnifiedMessaging (Default Web Site)' "
        "-InternalUrl 'https://mail.contoso.com/unifiedmessaging/service.asmx'",
    ),
    (
        Component.OWA,
        "https://exch01.contoso.local/owa",
        "Set-OwaVirtualDirectory -Identity 'EXCH01\\owa (Default Web Site)' "
        "-InternalUrl 'https://mail.contoso.com/owa'",
    ),
    (
        Component.ECP,
        "https://exch01.contoso.local/ecp",
        "Set-EcpVirtualDirectory -Identity 'EXCH01\\ecp (Default Web Site)' "
        "-InternalUrl 'https://mail.contoso.com/ecp'",
    ),
    (
        Component.EAS,
        "https://exch01.contoso.local/Microsoft-Server-ActiveSync",
        "Set-ActiveSyncVirtualDirectory -Identity "
        "'EXCH01\\Microsoft-Server-ActiveSync (Default Web Site)' "
        "-InternalUrl 'https://mail.contoso.com/Microsoft-Server-ActiveSync'",
    ),
    (
        Component.MAPI,
        "https://exch01.contoso.local/mapi",
        "Set-MapiVirtualDirectory -Identity 'EXCH01\\mapi (Default Web Site)' "
        "-InternalUrl 'https://mail.contoso.com/mapi'",
    ),
    (
        Component.OUTLOOK_ANYWHERE,
        "exch01.contoso.local",
        "Set-OutlookAnywhere -Identity 'EXCH01\\Rpc (Default Web Site)' "
        "-InternalHostname 'mail.contoso.com' -InternalClientsRequireSsl $true",
    ),
]


@pytest.mark.parametrize(
    ("component", "url", "command"), KB_STEPS, ids=[c.value for c, _, _ in KB_STEPS]
)
def test_kb940726_command_per_component(component: Component, url: str, command: str) -> None:
    # Outlook Anywhere's -InternalHostname and MAPI/HTTP came with 2013; UM went with it.
    new = component in (Component.OUTLOOK_ANYWHERE, Component.MAPI)
    fix = remediate(component, url, version=ExchangeVersion.E2016 if new else ExchangeVersion.E2007)
    assert fix.steps[0].kind is StepKind.COMMAND
    assert fix.steps[0].text == command
    assert fix.suggested_url is not None


@pytest.mark.parametrize("component", [Component.OUTLOOK_ANYWHERE, Component.MAPI])
def test_no_2013_cmdlet_is_written_for_2010(component: Component) -> None:
    url = (
        "exch01.contoso.local"
        if component is Component.OUTLOOK_ANYWHERE
        else ("https://exch01.contoso.local/mapi")
    )
    fix = remediate(component, url, version=ExchangeVersion.E2010)
    assert fix.suggested_url is None
    assert all(s.kind is StepKind.ADVICE for s in fix.steps)


def test_autodiscover_also_recycles_the_app_pool() -> None:
    fix = remediate(
        Component.AUTODISCOVER, "https://exch01.contoso.local/Autodiscover/Autodiscover.xml"
    )
    assert [s.kind for s in fix.steps] == [StepKind.COMMAND, StepKind.IIS]
    assert fix.steps[1].text == (
        "Invoke-Command -ComputerName 'exch01.contoso.local' -ScriptBlock "
        "{ Import-Module -Name 'WebAdministration'; Restart-WebAppPool -Name "
        "'MSExchangeAutodiscoverAppPool' }"
    )


def test_ews_needs_no_app_pool_step() -> None:
    fix = remediate(Component.EWS, "https://exch01.contoso.local/EWS/Exchange.asmx")
    assert [s.kind for s in fix.steps] == [StepKind.COMMAND]


def test_dns_step_when_certificate_name_is_not_in_internal_dns() -> None:
    fix = remediate(
        Component.EWS, "https://exch01.contoso.local/EWS/Exchange.asmx", suggested_dns=()
    )
    # The record first: the moved URL needs it.
    assert [s.kind for s in fix.steps] == [StepKind.DNS, StepKind.COMMAND]
    assert fix.steps[0].text == (
        "Add-DnsServerResourceRecordA -ZoneName 'contoso.com' -Name 'mail' -IPv4Address '10.0.0.21'"
    )
    assert fix.steps[0].runs == (
        "if ((Resolve-DnsName -Name 'mail.contoso.com' -Type 'A' -DnsOnly "
        "-ErrorAction 'SilentlyContinue').IPAddress -notcontains '10.0.0.21') "
        f"{{ {fix.steps[0].text} }}"
    )


def test_dns_advice_when_certificate_name_points_elsewhere() -> None:
    """No Add-DnsServerResourceRecordA here: a second A record would make round-robin.
    And no command moves the URL onto a name that resolves elsewhere: the what-if
    sees the new DNS finding, so the move is advice that says so."""
    fix = remediate(
        Component.EWS,
        "https://exch01.contoso.local/EWS/Exchange.asmx",
        suggested_dns=("203.0.113.7",),
    )
    assert all(s.kind is StepKind.ADVICE for s in fix.steps)
    assert "Add-DnsServerResourceRecord" not in " ".join(fix.texts)
    move = fix.steps[0]
    assert move.text.startswith("Not written as a command (the what-if finds it would cause")
    assert "mail.contoso.com resolves to 203.0.113.7, not to EXCH01" in move.text


@pytest.mark.parametrize(
    ("version", "cmdlet"),
    [
        (ExchangeVersion.E2010, "Set-ClientAccessServer"),
        (ExchangeVersion.E2013, "Set-ClientAccessServer"),
        (ExchangeVersion.E2016, "Set-ClientAccessService"),
        (ExchangeVersion.E2019, "Set-ClientAccessService"),
        (ExchangeVersion.SE, "Set-ClientAccessService"),
        (None, "Set-ClientAccessServer"),
    ],
)
def test_scp_cmdlet_by_version(version, cmdlet) -> None:
    fix = remediate(
        Component.AUTODISCOVER,
        "https://exch01.contoso.local/Autodiscover/Autodiscover.xml",
        version=version,
    )
    assert fix.steps[0].text.startswith(f"{cmdlet} -Identity 'EXCH01' ")


def test_um_on_2010_is_advice_not_a_missing_cmdlet() -> None:
    fix = remediate(
        Component.UM,
        "https://exch01.contoso.local/UnifiedMessaging/Service.asmx",
        version=ExchangeVersion.E2010,
    )
    assert fix.steps[0].kind is StepKind.ADVICE
    assert "EWS" in fix.steps[0].text


def test_external_url_host_is_preferred_when_covered() -> None:
    fix = remediate(
        Component.EWS,
        "https://exch01.contoso.local/EWS/Exchange.asmx",
        external_url="https://autodiscover.contoso.com/EWS/Exchange.asmx",
    )
    assert fix.suggested_url == "https://autodiscover.contoso.com/EWS/Exchange.asmx"
    # Control: an ExternalUrl the certificate does not cover is not suggested.
    other = remediate(
        Component.EWS,
        "https://exch01.contoso.local/EWS/Exchange.asmx",
        external_url="https://webmail.fabrikam.com/EWS/Exchange.asmx",
    )
    assert other.suggested_url == "https://mail.contoso.com/EWS/Exchange.asmx"


def test_wildcard_is_never_suggested() -> None:
    wildcard = ROOT.issue("*.contoso.com")
    fix = remediate(Component.EWS, "https://exch01.contoso.local/EWS/Exchange.asmx", cert=wildcard)
    assert fix.suggested_url == "https://exch01.contoso.com/EWS/Exchange.asmx"
    assert "*" not in fix.steps[0].text


def test_cn_is_suggested_when_there_is_no_san() -> None:
    cn_only = ROOT.issue(cn="mail.contoso.com", san=False)
    fix = remediate(Component.OAB, "https://exch01.contoso.local/OAB", cert=cn_only)
    assert fix.suggested_url == "https://mail.contoso.com/OAB"


def test_hostile_certificate_names_never_reach_a_command() -> None:
    evil = ROOT.issue('x"; Remove-Mailbox -Identity *; ".contoso.com', "bad name.contoso.com")
    fix = remediate(Component.EWS, "https://exch01.contoso.local/EWS/Exchange.asmx", cert=evil)
    assert fix.suggested_url is None
    assert all(s.kind is StepKind.ADVICE for s in fix.steps)
    assert "Remove-Mailbox" not in " ".join(fix.texts)


def test_a_san_ending_in_a_newline_is_never_suggested() -> None:
    """``$`` matches before a final newline: the old check let 'mail.contoso.com\\n'
    through, giving https://mail.contoso.com\\n:443/... and -ZoneName "contoso.com\\n"."""
    newline = ROOT.issue("mail.contoso.com\n", "mail.contoso.com")
    fix = remediate(Component.EWS, "https://exch01.contoso.local/EWS/Exchange.asmx", cert=newline)
    assert fix.suggested_url == "https://mail.contoso.com/EWS/Exchange.asmx"
    assert "\n" not in "".join(fix.texts)
    alone = ROOT.issue("mail.contoso.com\n")
    fix = remediate(Component.EWS, "https://exch01.contoso.local/EWS/Exchange.asmx", cert=alone)
    assert fix.suggested_url is None
    assert all(s.kind is StepKind.ADVICE for s in fix.steps)


def test_discovered_identity_is_quoted() -> None:
    fix = remediate(
        Component.EWS,
        "https://exch01.contoso.local/EWS/Exchange.asmx",
        identity='EWS (Intranet "Site" $x)',
    )
    assert fix.steps[0].text.startswith(
        "Set-WebServicesVirtualDirectory -Identity 'EXCH01\\EWS (Intranet \"Site\" $x)' "
    )


def test_name_match_needs_no_fix() -> None:
    fix = remediate(Component.EWS, "https://mail.contoso.com/EWS/Exchange.asmx")
    assert fix.steps == ()
    assert fix.suggested_url is None


def test_untrusted_and_expired_get_their_own_advice() -> None:
    stranger = CA("Fabrikam Root").issue("mail.contoso.com")
    fix = remediate(Component.EWS, "https://mail.contoso.com/EWS/Exchange.asmx", cert=stranger)
    assert [s.kind for s in fix.steps] == [StepKind.ADVICE]
    assert "certutil -dspublish" in fix.steps[0].text
    expired = ROOT.issue(
        "mail.contoso.com",
        not_before=NOW - dt.timedelta(days=400),
        not_after=NOW - dt.timedelta(days=1),
    )
    fix = remediate(Component.EWS, "https://mail.contoso.com/EWS/Exchange.asmx", cert=expired)
    renew = next(s for s in fix.steps if "Renew" in s.text)
    assert "which has expired" in renew.text
    assert "Enable-ExchangeCertificate -Server 'EXCH01' -Thumbprint <new thumbprint>" in renew.text
    assert expired.cert.not_valid_after_utc.strftime("%Y-%m-%d") in renew.comment


def test_port_is_kept_in_the_suggested_url() -> None:
    fix = remediate(Component.EWS, "https://exch01.contoso.local:8443/EWS/Exchange.asmx")
    assert fix.suggested_url == "https://mail.contoso.com:8443/EWS/Exchange.asmx"


def test_set_url_command_refuses_unusual_values() -> None:
    """A URL with white space is not a valid InternalUrl: the command says why."""
    command = set_url_command("EXCH01", Component.EWS, None, "https://x.contoso.com/a b")
    assert render(command).endswith("-InternalUrl 'https://x.contoso.com/a b'")
    from exporter.remediation.command import problems

    assert "has white space" in next(problems(command))
