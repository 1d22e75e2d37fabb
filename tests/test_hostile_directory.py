"""Hostile directory values (issue #23) through discovery, the plan and every place
its text goes, against real peers: slapd holding the organisation, dnsmasq, a TLS
server. What the security review found: a virtual directory named
``EWS“;Invoke-Something #`` became code inside ``-Identity "..."``; a networkAddress
``ncacn_ip_tcp:exch02.contoso.local;Invoke-Something`` reached
``Invoke-Command -ComputerName`` unquoted; an ``msExchExternalHostName`` with
``$(...)`` reached ``-DomainName``. Each now stays one literal argument, or never
becomes a command."""

from __future__ import annotations

import json

from exporter.lab.pki import CA
from tests.ad_data import CONFIG_DN, _server, _vdir, organisation
from tests.conftest import run_exporter
from tests.peers.slapd import BIND_DN
from tests.powershell_tokens import arguments, decode, tokenize

# A typographic quote, and a letter whose UTF-8 bytes hold 0x92 (a quote in cp1252).
EVIL_VDIR = "EWS\u201c;Invoke-Something #\u00d2;Invoke-Something;#"
EVIL_FQDN = "exch02.contoso.local;Invoke-Something"
EVIL_EXTERNAL = "https://$(Invoke-Something).contoso.com/EWS/Exchange.asmx"


def _hostile(port: int) -> list:
    org = f"CN=Contoso,CN=Microsoft Exchange,CN=Services,{CONFIG_DN}"
    servers = (
        "CN=Servers,CN=Exchange Administrative Group (FYDIBOHF23SPDLT),"
        f"CN=Administrative Groups,{org}"
    )
    e21 = f"CN=EXCH21,{servers}"
    e22 = f"CN=EXCH22,{servers}"
    return [
        *_server(servers, "EXCH21", "Version 15.1 (Build 2507.6)", 2, "HQ"),
        _vdir(
            e21,
            "msExchWebServicesVirtualDirectory",
            EVIL_VDIR.replace(";", "\\;"),  # RFC 4514: escaped in the DN
            f"https://exch21.contoso.local:{port}/EWS/Exchange.asmx",
            EVIL_EXTERNAL,
        ),
        *_server(servers, "EXCH22", "Version 15.1 (Build 2507.6)", 2, "HQ", fqdn=EVIL_FQDN),
        _vdir(
            e22,
            "msExchWebServicesVirtualDirectory",
            "EWS",
            f"https://exch22.contoso.local:{port}/EWS/Exchange.asmx",
        ),
    ]


def test_directory_values_never_become_code(
    make_slapd,
    make_tls,
    make_dns,
    write_config,
    root_file,
    password_file,
    ldap_tls_files,
    issuing_ca: CA,
) -> None:
    tls = make_tls("127.0.6.1", issuing_ca.issue("mail.contoso.com"))
    slapd = make_slapd(organisation(port=tls.port, bulk=0) + _hostile(tls.port))
    dns = make_dns(
        {
            "exch21.contoso.local": ["127.0.6.1"],
            "exch22.contoso.local": ["127.0.6.1"],
            "mail.contoso.com": ["127.0.6.1"],
        }
    )
    path = write_config(
        {
            "ldap": {
                "url": slapd.ldaps_url,
                "bind_dn": BIND_DN,
                "bind_password_file": str(password_file),
                "ca_file": str(ldap_tls_files["ca"]),
                "timeout": "2s",
                "servers": ["EXCH21", "EXCH22"],
                "components": ["ews"],
            },
            "trust": {"ca_files": [str(root_file)], "system": False},
            "dns": {"nameservers": [dns.nameserver], "timeout": "2s"},
            "probe": {"interval": "3s", "timeout": "2s"},
        }
    )
    result = run_exporter("report", "--config.file", str(path), "--format", "json")
    data = json.loads(result.stdout)
    (ldap,) = data["discovery"]
    assert ldap["success"], (ldap, result.stderr)
    # The server whose networkAddress is not a DNS name is left out, and said so.
    assert any("EXCH22: skipped" in note and "is not a DNS name" in note for note in ldap["notes"])
    assert {e["server"] for e in data["endpoints"]} == {"EXCH21"}, ldap["notes"]
    (ews,) = data["endpoints"]
    assert ews["checks"]["name_match"] is False
    # The move is a command, the evil identity one literal argument of it.
    (move,) = [s for s in ews["remediation_steps"] if s["kind"] == "command"]
    cmdlet, params = arguments(move["text"])
    assert cmdlet == "Set-WebServicesVirtualDirectory"
    assert params["Identity"] == ("str", f"EXCH21\\{EVIL_VDIR} (Default Web Site)")
    assert params["InternalUrl"] == (
        "str",
        f"https://mail.contoso.com:{tls.port}/EWS/Exchange.asmx",
    )
    # The evil ExternalUrl names nothing a certificate could carry: not suggested, not
    # in the certificate request.
    request = data["names_plan"]["request_command"] or ""
    assert "Invoke-Something" not in request
    assert all(n["name"] != "$(invoke-something).contoso.com" for n in data["names_plan"]["names"])
    # The same text in the .ps1: every line that runs reads as one statement or one
    # guarded block, and the identity stays inside its literal.
    script = run_exporter("report", "--config.file", str(path), "--format", "powershell")
    running = [line for line in script.stdout.splitlines() if line and not line.startswith("#")]
    assert running
    for line in running:
        kinds = [kind for kind, _ in tokenize(line)]
        assert "dq" not in kinds, line
        assert "newline" not in kinds, line
    identity = ("str", f"EXCH21\\{EVIL_VDIR} (Default Web Site)")
    assert any(identity in decode(tokenize(x)) for x in running)
    # ASCII throughout: Windows PowerShell reads it the same in any code page.
    assert script.stdout.isascii()
