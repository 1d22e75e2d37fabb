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

    def use(component: str, url: str, covered: bool) -> dict[str, object]:
        return {"server": "EXCH01", "component": component, "url": url, "covered": covered}

    assert plan == {
        "names": [
            {
                "name": "127.0.4.21",
                "endpoints": [use("oab", f"https://127.0.4.21:{port}/OAB", False)],
                "covered_by_current": False,
                "public_ok": False,
                "reason": IP,
            },
            {
                "name": "exch01.contoso.local",
                "endpoints": [
                    use("ews", f"https://exch01.contoso.local:{port}/EWS/Exchange.asmx", False)
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
