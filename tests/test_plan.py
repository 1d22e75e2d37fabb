"""Fixes that are a plan (issue #22), against real TLS servers: three servers answer
mail.fabrikam.test (one DNS name with three A records); each server's plan is
asserted command by command. The fixes once computed finding by finding bound the
certificate about to expire on the healthy server and moved a URL to a name the
certificate bound next would not carry; the plan does neither."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes

from exporter.evaluate.outcome import Check, Reason, Status
from exporter.remediation import StepKind
from exporter.render.html import render_page
from exporter.render.json import snapshot_json
from exporter.render.powershell import render_powershell
from exporter.snapshot import Snapshot
from tests.conftest import lab_config, run
from tests.peers.dnsmasq import free_port
from tests.pki import CA, DAY, NOW, Issued

ADDRESSES = {"EXCH01": "127.0.5.1", "EXCH02": "127.0.5.2", "EXCH07": "127.0.5.7"}
NAME = "mail.fabrikam.test"


def thumb(issued: Issued) -> str:
    return issued.cert.fingerprint(hashes.SHA1()).hex().upper()  # noqa: S303 - a thumbprint


def fabrikam(
    make_tls,
    make_dns,
    write_config,
    root_file,
    tmp_path: Path,
    certs: dict[str, Issued],
    urls: dict[str, dict[str, str]] | None = None,
    hosts_file: str | None = None,
) -> Snapshot:
    hosts = tmp_path / "hosts"
    hosts.write_text(
        hosts_file
        if hosts_file is not None
        else "".join(f"{a} {NAME}\n" for a in ADDRESSES.values())
    )
    dns = make_dns({}, extra=[f"--addn-hosts={hosts}"], zones=("fabrikam.test",))
    port = free_port(ADDRESSES["EXCH01"])
    servers: list[dict[str, Any]] = []
    for server, cert in certs.items():
        address = ADDRESSES[server]
        make_tls(address, cert, port=port)
        mine = (urls or {}).get(server, {})
        servers.append(
            {
                "name": server,
                "fqdn": f"{server.lower()}.fabrikam.test",
                "addresses": [address],
                "version": "2019",
                "urls": {
                    component: url.format(port=port)
                    for component, url in {
                        "ews": f"https://{NAME}:{{port}}/EWS/Exchange.asmx",
                        "oab": f"https://{NAME}:{{port}}/OAB",
                        **mine,
                    }.items()
                },
            }
        )
    return run(write_config(lab_config(servers, dns, [root_file])))


def plan_texts(snapshot: Snapshot, server: str) -> list[tuple[StepKind, str]]:
    return [(s.kind, s.text) for s in snapshot.plan.servers.get(server, ())]


def commands(snapshot: Snapshot) -> list[str]:
    return [
        s.text
        for steps in snapshot.plan.servers.values()
        for s in steps
        if s.kind is not StepKind.ADVICE
    ]


def bind(server: str, holder: str, issued: Issued) -> list[tuple[StepKind, str]]:
    t = thumb(issued)
    return [
        (
            StepKind.COMMAND,
            "$password = Read-Host -AsSecureString -Prompt 'A password to protect the "
            f"exported certificate in transit'; $pfx = Export-ExchangeCertificate -Server "
            f"'{holder}' -Thumbprint '{t}' -BinaryEncoded -Password $password; "
            f"Import-ExchangeCertificate -Server '{server}' -FileData $pfx.FileData "
            "-Password $password",
        ),
        (
            StepKind.COMMAND,
            f"Enable-ExchangeCertificate -Server '{server}' -Thumbprint '{t}' -Services 'IIS'",
        ),
    ]


def endpoint(snapshot: Snapshot, server: str, component: str = "ews") -> Any:
    return next(
        r
        for r in snapshot.endpoints
        if r.verdict.probe.endpoint.server.name == server
        and r.verdict.probe.endpoint.component.value == component
    )


def test_the_three_server_case(
    make_tls, make_dns, write_config, root_file, tmp_path, issuing_ca: CA
) -> None:
    good = issuing_ca.issue(NAME, not_before=NOW - 30 * DAY, not_after=NOW + 300 * DAY)
    own = issuing_ca.issue("exch02.fabrikam.test")
    expiring = issuing_ca.issue(NAME, not_before=NOW - 29 * DAY, not_after=NOW + 10 * DAY)
    certs = {"EXCH01": good, "EXCH02": own, "EXCH07": expiring}
    snapshot = fabrikam(make_tls, make_dns, write_config, root_file, tmp_path, certs)
    # EXCH01's good certificate is the target, never replaced by the newer, expiring one.
    assert plan_texts(snapshot, "EXCH01") == []
    assert endpoint(snapshot, "EXCH01").status is Status.OK
    # EXCH02 gets EXCH01's certificate: no URL moves to exch02.fabrikam.test.
    assert plan_texts(snapshot, "EXCH02") == bind("EXCH02", "EXCH01", good)
    assert endpoint(snapshot, "EXCH02").remediation.suggested_url is None
    # EXCH07 gets it too; no advice to renew what the plan replaces.
    assert plan_texts(snapshot, "EXCH07") == bind("EXCH07", "EXCH01", good)
    message = endpoint(snapshot, "EXCH07").verdict.checks[Check.CONSISTENT].message or ""
    assert f"the one to deploy is {thumb(good)}, presented by EXCH01" in message
    assert "valid until" in message
    # No "point mail.fabrikam.test at X" per server; no Set-*VirtualDirectory at all.
    everything = " ".join(s.text for steps in snapshot.plan.servers.values() for s in steps)
    assert "Point the internal record" not in everything
    assert "VirtualDirectory" not in everything
    # Each server's section of the .ps1 names it; the JSON has the plan per server.
    script = render_powershell(snapshot)
    assert "# ===== Server EXCH02 (exch02.fabrikam.test): runs on its own" in script
    assert "if (-not (Get-ExchangeCertificate -Server 'EXCH02'" in script
    plan = json.loads(json.dumps(snapshot_json(snapshot)))["plan"]
    assert set(plan) == {"EXCH02", "EXCH07"}
    assert [s["kind"] for s in plan["EXCH07"]] == ["command", "command"]
    # The page groups the namespace's fixes by server and names it on every command.
    page = render_page(snapshot, NOW)
    fixes = re.findall(r'<div class="fix"><span class="server">(\w+)</span><pre', page)
    assert sorted(fixes) == ["EXCH02", "EXCH02", "EXCH07", "EXCH07"]
    answered = {(a["server"], a["component"], a["check"]) for a in plan["EXCH07"][1]["addresses"]}
    assert ("EXCH07", "ews", "expiry") in answered
    assert ("EXCH07", "ews", "consistent") in answered


def test_two_good_certificates_the_longest_wins(
    make_tls, make_dns, write_config, root_file, tmp_path, issuing_ca: CA
) -> None:
    longer = issuing_ca.issue(NAME, not_before=NOW - 60 * DAY, not_after=NOW + 300 * DAY)
    newer = issuing_ca.issue(NAME, not_before=NOW - DAY, not_after=NOW + 200 * DAY)
    certs = {"EXCH01": longer, "EXCH02": newer, "EXCH07": newer}
    snapshot = fabrikam(make_tls, make_dns, write_config, root_file, tmp_path, certs)
    assert plan_texts(snapshot, "EXCH01") == []
    assert plan_texts(snapshot, "EXCH02") == bind("EXCH02", "EXCH01", longer)
    assert plan_texts(snapshot, "EXCH07") == bind("EXCH07", "EXCH01", longer)
    message = endpoint(snapshot, "EXCH02").verdict.checks[Check.CONSISTENT].message or ""
    assert "the longest of the 2 healthy ones" in message


def test_all_three_bad_no_bind_and_why(
    make_tls, make_dns, write_config, root_file, tmp_path, issuing_ca: CA
) -> None:
    expired = issuing_ca.issue(NAME, not_before=NOW - 400 * DAY, not_after=NOW - DAY)
    own = issuing_ca.issue("exch02.fabrikam.test")
    expiring = issuing_ca.issue(NAME, not_before=NOW - 29 * DAY, not_after=NOW + 10 * DAY)
    certs = {"EXCH01": expired, "EXCH02": own, "EXCH07": expiring}
    snapshot = fabrikam(make_tls, make_dns, write_config, root_file, tmp_path, certs)
    assert not any("Enable-ExchangeCertificate" in c for c in commands(snapshot))
    assert not any("Export-ExchangeCertificate" in c for c in commands(snapshot))
    for server in certs:
        outcome = endpoint(snapshot, server).verdict.checks[Check.CONSISTENT]
        assert (outcome.ok, outcome.reason) == (False, Reason.CERTIFICATE_DIFFERS)
        assert "none qualifies as the one to deploy" in (outcome.message or "")
        assert "request a new certificate" in (outcome.message or "")
    message = endpoint(snapshot, "EXCH01").verdict.checks[Check.CONSISTENT].message or ""
    assert f"{thumb(expired)} (EXCH01): it has expired" in message
    assert f"{thumb(own)} (EXCH02): it does not name {NAME}" in message
    assert "inside thresholds.expiry_warning" in message
    # The expired certificate's advice says it has expired, not "expires or has expired".
    renew = [s.text for s in snapshot.plan.servers["EXCH01"] if s.text.startswith("Renew")]
    assert renew
    assert "which has expired" in renew[0]
    # The plan says to request one that qualifies, naming what the servers serve.
    request = [s.text for s in snapshot.plan.servers["EXCH02"] if "request one" in s.text]
    assert request, snapshot.plan.servers["EXCH02"]
    assert f"names {NAME}" in request[0]


def test_an_expired_one_beside_a_good_one(
    make_tls, make_dns, write_config, root_file, tmp_path, issuing_ca: CA
) -> None:
    good = issuing_ca.issue(NAME)
    expired = issuing_ca.issue(NAME, not_before=NOW - 400 * DAY, not_after=NOW - DAY)
    certs = {"EXCH01": expired, "EXCH02": good}
    snapshot = fabrikam(make_tls, make_dns, write_config, root_file, tmp_path, certs)
    assert plan_texts(snapshot, "EXCH02") == []
    assert plan_texts(snapshot, "EXCH01") == bind("EXCH01", "EXCH02", good)
    # The renewal advice is left out: the proven bind answers the expired date.
    assert endpoint(snapshot, "EXCH01").status is Status.CRITICAL


def test_one_server_on_a_name_its_certificate_lacks(
    make_tls, make_dns, write_config, root_file, tmp_path, issuing_ca: CA
) -> None:
    """EXCH02's Autodiscover URL uses its own name, which the namespace's certificate
    (and EXCH02's) lacks: the URL moves onto the namespace's name, which already
    resolves to EXCH02, and nothing is bound."""
    good = issuing_ca.issue(NAME)
    certs = {"EXCH01": good, "EXCH02": good}
    urls = {
        "EXCH02": {
            "autodiscover": "https://exch02.fabrikam.test:{port}/Autodiscover/Autodiscover.xml"
        }
    }
    hosts = "".join(f"{a} {NAME}\n" for a in ADDRESSES.values()) + (
        f"{ADDRESSES['EXCH02']} exch02.fabrikam.test\n"
    )
    snapshot = fabrikam(make_tls, make_dns, write_config, root_file, tmp_path, certs, urls, hosts)
    port = endpoint(snapshot, "EXCH02").verdict.probe.endpoint.target.port
    assert plan_texts(snapshot, "EXCH02") == [
        (
            StepKind.COMMAND,
            "Set-ClientAccessService -Identity 'EXCH02' -AutodiscoverServiceInternalUri "
            f"'https://{NAME}:{port}/Autodiscover/Autodiscover.xml'",
        ),
        (
            StepKind.IIS,
            "Invoke-Command -ComputerName 'exch02.fabrikam.test' -ScriptBlock { Import-Module "
            "-Name 'WebAdministration'; Restart-WebAppPool -Name 'MSExchangeAutodiscoverAppPool' }",
        ),
    ]
    assert plan_texts(snapshot, "EXCH01") == []
