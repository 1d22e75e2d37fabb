"""One namespace, one certificate (issue #16, item 1), against real TLS servers:
three servers answer mail.contoso.com on one port (one DNS name with three A
records, as DNS round robin or a load balancer's pool has it); after a renewal,
one still presents the old certificate."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes

from exporter.evaluate.outcome import Check, Reason, Status
from tests.conftest import lab_config, run
from tests.peers.dnsmasq import free_port
from tests.pki import CA, DAY, NOW

ADDRESSES = ["127.0.4.1", "127.0.4.2", "127.0.4.3"]


def namespace_lab(make_tls, make_dns, write_config, root_file, tmp_path, certs, alone=None):
    hosts = tmp_path / "hosts"
    hosts.write_text("".join(f"{a} mail.contoso.com\n" for a in ADDRESSES))
    dns = make_dns({}, extra=[f"--addn-hosts={hosts}"])
    port = free_port(ADDRESSES[0])
    servers: list[dict[str, Any]] = []
    for n, (address, cert) in enumerate(zip(ADDRESSES, certs, strict=True), start=1):
        make_tls(address, cert, port=port)
        servers.append(
            {
                "name": f"EXCH0{n}",
                "fqdn": f"exch0{n}.contoso.local",
                "addresses": [address],
                "urls": {
                    "ews": f"https://mail.contoso.com:{port}/EWS/Exchange.asmx",
                    "oab": f"https://mail.contoso.com:{port}/OAB",
                },
            }
        )
    if alone is not None:
        tls = make_tls("127.0.4.9", alone)
        servers.append(
            {
                "name": "EXCH09",
                "fqdn": "exch09.contoso.local",
                "addresses": ["127.0.4.9"],
                "urls": {"ews": f"https://127.0.4.9:{tls.port}/EWS/Exchange.asmx"},
            }
        )
    snapshot = run(write_config(lab_config(servers, dns, [root_file])))
    return {
        (r.verdict.probe.endpoint.server.name, r.verdict.probe.endpoint.component.value): r
        for r in snapshot.endpoints
    }


def consistent(by, server: str, component: str = "ews") -> tuple[bool | None, Reason | None]:
    outcome = by[(server, component)].verdict.checks[Check.CONSISTENT]
    return outcome.ok, outcome.reason


def test_a_server_left_on_the_old_certificate(
    make_tls, make_dns, write_config, root_file, tmp_path: Path, issuing_ca: CA
) -> None:
    old = issuing_ca.issue("mail.contoso.com", not_before=NOW - 300 * DAY, not_after=NOW + 60 * DAY)
    new = issuing_ca.issue("mail.contoso.com", not_before=NOW - DAY, not_after=NOW + 365 * DAY)
    by = namespace_lab(make_tls, make_dns, write_config, root_file, tmp_path, [new, old, new])
    for server in ("EXCH01", "EXCH03"):
        for component in ("ews", "oab"):
            assert consistent(by, server, component) == (True, None)
            assert by[(server, component)].status is Status.OK
    for component in ("ews", "oab"):
        assert consistent(by, "EXCH02", component) == (False, Reason.CERTIFICATE_DIFFERS)
        report = by[("EXCH02", component)]
        assert report.status is Status.WARNING  # at least warning; the old one still works
        thumb = new.cert.fingerprint(hashes.SHA1()).hex().upper()  # noqa: S303 - a thumbprint
        message = report.verdict.checks[Check.CONSISTENT].message or ""
        assert "mail.contoso.com:" in message
        assert f"the one to deploy is {thumb}, presented by EXCH01, EXCH03" in message
        assert "the longest of the 2 healthy ones" in message
        # Got from a server that has it, then enabled.
        assert [s.text for s in report.remediation.steps] == [
            "$password = Read-Host -AsSecureString -Prompt 'A password to protect the "
            "exported certificate in transit'; $pfx = Export-ExchangeCertificate -Server "
            f"'EXCH01' -Thumbprint '{thumb}' -BinaryEncoded -Password $password; "
            "Import-ExchangeCertificate -Server 'EXCH02' -FileData $pfx.FileData "
            "-Password $password",
            f"Enable-ExchangeCertificate -Server 'EXCH02' -Thumbprint '{thumb}' -Services 'IIS'",
        ]
        assert report.remediation.steps[0].guard == (
            f"(Get-ExchangeCertificate -Server 'EXCH02' -Thumbprint '{thumb}' "
            "-ErrorAction 'SilentlyContinue')"
        )


def test_one_certificate_everywhere_and_alone_in_its_namespace(
    make_tls, make_dns, write_config, root_file, tmp_path: Path, issuing_ca: CA
) -> None:
    same = issuing_ca.issue("mail.contoso.com")
    alone = issuing_ca.issue("mail.contoso.com", ips=("127.0.4.9",))
    by = namespace_lab(
        make_tls, make_dns, write_config, root_file, tmp_path, [same, same, same], alone
    )
    for server in ("EXCH01", "EXCH02", "EXCH03"):
        assert consistent(by, server) == (True, None)
    assert consistent(by, "EXCH09") == (None, None)
    assert by[("EXCH09", "ews")].status is Status.OK
