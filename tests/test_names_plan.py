"""The names plan (issue #16, item 2), asserted in full as the CLI prints it, text
and JSON, for a lab with a .local URL, a public URL (internal and external) and
an IP URL, each probed on a real TLS server."""

from __future__ import annotations

import json

from tests.conftest import lab_config, run_exporter
from tests.pki import CA


def names_lab(make_tls, make_dns, write_config, root_file, issuing_ca: CA):
    tls = make_tls("127.0.4.21", issuing_ca.issue("mail.contoso.com"))
    dns = make_dns({"exch01.contoso.local": ["127.0.4.21"], "mail.contoso.com": ["127.0.4.21"]})
    port = tls.port
    server = {
        "name": "EXCH01",
        "fqdn": "exch01.contoso.local",
        "urls": {
            "autodiscover": f"https://mail.contoso.com:{port}/Autodiscover/Autodiscover.xml",
            "ews": f"https://exch01.contoso.local:{port}/EWS/Exchange.asmx",
            "oab": f"https://127.0.4.21:{port}/OAB",
        },
        "external_urls": {"ews": "https://mail.contoso.com/EWS/Exchange.asmx"},
    }
    return write_config(lab_config([server], dns, [root_file])), port


LOCAL = (
    "'.local' is not a public domain: no public CA issues it (since 2015); move the URL to "
    "a public name the certificate carries, with split DNS (KB 940726)"
)
IP = (
    "an IP address: public CAs issue for names (and for private addresses never); move the "
    "URL to a public name the certificate carries, with split DNS (KB 940726)"
)
REQUEST = (
    "New-ExchangeCertificate -GenerateRequest -SubjectName 'cn=mail.contoso.com' "
    "-DomainName 'mail.contoso.com' -PrivateKeyExportable $true -KeySize 2048 "
    "-RequestFile '\\\\exch01.contoso.local\\c$\\mail.contoso.com.req'"
)


def test_names_plan_text(make_tls, make_dns, write_config, root_file, issuing_ca) -> None:
    path, _ = names_lab(make_tls, make_dns, write_config, root_file, issuing_ca)
    result = run_exporter("report", "--config.file", str(path), "--format", "names")
    assert result.returncode == 2, result.stderr  # the exit code is the report's status
    assert result.stdout == (
        "NAME                  PUBLIC  COVERED  USED BY\n"
        "127.0.4.21            NO      NO       EXCH01 oab\n"
        f"    127.0.4.21: {IP}\n"
        "exch01.contoso.local  NO      NO       EXCH01 ews\n"
        f"    exch01.contoso.local: {LOCAL}\n"
        "mail.contoso.com      yes     yes      EXCH01 autodiscover, EXCH01 ews\n"
        "\n"
        "The certificate request for every public name (Exchange Management Shell):\n"
        f"{REQUEST}\n"
    )


def test_names_plan_json(make_tls, make_dns, write_config, root_file, issuing_ca) -> None:
    path, port = names_lab(make_tls, make_dns, write_config, root_file, issuing_ca)
    result = run_exporter("report", "--config.file", str(path), "--format", "json")
    plan = json.loads(result.stdout)["names_plan"]

    def use(
        component: str, url: str, covered: bool, refused_by: tuple[str, ...] = ()
    ) -> dict[str, object]:
        return {
            "server": "EXCH01",
            "component": component,
            "url": url,
            "covered": covered,
            "refused_by": list(refused_by),
        }

    assert plan == {
        "names": [
            {
                "name": "127.0.4.21",
                "endpoints": [use("oab", f"https://127.0.4.21:{port}/OAB", False, ("outlook",))],
                "covered_by_current": False,
                "public_ok": False,
                "reason": IP,
            },
            {
                "name": "exch01.contoso.local",
                "endpoints": [
                    use(
                        "ews",
                        f"https://exch01.contoso.local:{port}/EWS/Exchange.asmx",
                        False,
                        ("outlook", "apple"),
                    )
                ],
                "covered_by_current": False,
                "public_ok": False,
                "reason": LOCAL,
            },
            {
                "name": "mail.contoso.com",
                "endpoints": [
                    use(
                        "autodiscover",
                        f"https://mail.contoso.com:{port}/Autodiscover/Autodiscover.xml",
                        True,
                    ),
                    use("ews", "https://mail.contoso.com/EWS/Exchange.asmx", True),
                ],
                "covered_by_current": True,
                "public_ok": True,
                "reason": None,
            },
        ],
        "request_command": REQUEST,
    }


import pytest  # noqa: E402 - the table below is this file's second half

from exporter.remediation.names_plan import public_reason  # noqa: E402


@pytest.mark.parametrize(
    ("name", "public"),
    [
        ("mail.contoso.com", True),
        ("autodiscover.contoso.co.uk", True),
        ("exch01.contoso.local", False),
        ("exch01", False),
        ("exch01.corp", False),
        ("mail.home.arpa", False),
        ("10.0.0.21", False),
        ("fe80::1", False),
        ("local.contoso.com", True),  # .local only as the suffix
    ],
)
def test_which_names_a_public_ca_issues(name: str, public: bool) -> None:
    assert (public_reason(name) is None) is public


def test_a_name_clients_refuse_today_says_so() -> None:
    """The certificate on webmail.contoso.com names it only in the CN: Outlook's
    checks pass, iPhones and browsers refuse it; the plan says so beside the name."""
    import datetime as dt

    from cryptography.hazmat.primitives.serialization import Encoding

    from exporter.config import Thresholds
    from exporter.evaluate.outcome import Status
    from exporter.evaluate.verdict import evaluate_endpoint
    from exporter.model import Component, Endpoint, Server
    from exporter.probe.results import DnsAnswer, DnsReason, ProbeResult, TlsReason, TlsResult
    from exporter.remediation.names_plan import plan_names
    from exporter.render.names import render_names
    from exporter.snapshot import Snapshot
    from exporter.truststore import TrustStore
    from tests.pki import CA, NOW

    root = CA("Contoso Root")
    cn_only = CA("Contoso Issuing", parent=root).issue(cn="webmail.contoso.com", san=False)
    server = Server("EXCH01", "exch01.contoso.com", ("10.0.0.1",))
    endpoint = Endpoint.build(server, Component.OWA, "https://webmail.contoso.com/owa")
    chain = tuple(c.public_bytes(Encoding.DER) for c in cn_only.chain)
    probe = ProbeResult(
        endpoint,
        DnsAnswer("webmail.contoso.com", ("10.0.0.1",), DnsReason.OK),
        ("10.0.0.1",),
        None,
        "10.0.0.1",
        TlsResult("10.0.0.1", 443, "webmail.contoso.com", TlsReason.OK, chain),
    )
    verdict = evaluate_endpoint(probe, TrustStore((root.cert,), ()), Thresholds(), NOW)
    plan = plan_names([verdict])
    (name,) = plan.names
    assert name.uses[0].refused_by == ("apple", "browser")
    snapshot = Snapshot((), (), NOW.replace(tzinfo=dt.UTC), 0.0, Status.CRITICAL, names_plan=plan)
    assert (
        "    webmail.contoso.com: refused today by apple, browser; the request below yields "
        "a certificate every client accepts"
    ) in render_names(snapshot).splitlines()
