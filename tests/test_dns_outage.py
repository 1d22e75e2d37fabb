"""A DNS outage is not a missing record (issue #17, item 1): with the internal DNS
server stopped or hung, nothing anywhere says "add this record", the DNS check is
not judged (with its reason), and the outage is one finding for the nameserver.
The control beside it: a record that really is missing still gets its command."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from exporter.evaluate.outcome import Check, Reason, Status
from exporter.nagios.check import evaluate_check, render_check
from exporter.nagios.ranges import parse_range
from exporter.remediation import StepKind
from exporter.render.html import render_page
from exporter.render.json import snapshot_json
from exporter.render.table import render_table
from exporter.service.collector import render_snapshot
from tests.conftest import lab_config, run
from tests.pki import CA

ADD_RECORD = "Add-DnsServerResourceRecord"


@pytest.fixture
def lab(make_tls, make_dns, write_config, root_file, issuing_ca: CA):
    """EXCH01 healthy but for DNS; EXCH02's URL uses its own name while its
    certificate names mail2.contoso.com (a fix that needs that name's record)."""

    def build(records: dict[str, list[str]]) -> tuple[Path, Any]:
        ok = make_tls("127.0.8.1", issuing_ca.issue("mail.contoso.com"))
        kb = make_tls("127.0.8.2", issuing_ca.issue("mail2.contoso.com"))
        dns = make_dns(records)
        servers = [
            {
                "name": "EXCH01",
                "fqdn": "exch01.contoso.local",
                "addresses": ["127.0.8.1"],
                "urls": {"ews": f"https://mail.contoso.com:{ok.port}/EWS/Exchange.asmx"},
            },
            {
                "name": "EXCH02",
                "fqdn": "exch02.contoso.local",
                "addresses": ["127.0.8.2"],
                "urls": {"ews": f"https://exch02.contoso.local:{kb.port}/EWS/Exchange.asmx"},
            },
        ]
        # EXCH03's address comes from DNS only: with DNS down nothing can be probed.
        servers.append(
            {
                "name": "EXCH03",
                "fqdn": "exch03.contoso.local",
                "urls": {"ews": f"https://mail.contoso.com:{ok.port}/EWS/Exchange.asmx"},
            }
        )
        config = lab_config(servers, dns, [root_file])
        config["dns"]["timeout"] = "1s"
        return write_config(config), dns

    return build


def everything(snapshot) -> str:
    """Every rendering a user or Prometheus sees of one snapshot."""
    now = dt.datetime.now(dt.UTC)
    nagios = render_check(evaluate_check(snapshot, parse_range("30:"), parse_range("7:")), 2)
    return "\n".join(
        [
            json.dumps(snapshot_json(snapshot)),
            render_table(snapshot),
            render_page(snapshot, now),
            render_snapshot(snapshot).plain.decode(),
            nagios,
        ]
    )


@pytest.mark.parametrize("outage", ["stopped", "hung"])
def test_an_unanswering_dns_server_never_suggests_a_record(lab, outage: str) -> None:
    path, dns = lab({"mail.contoso.com": ["127.0.8.1"], "exch02.contoso.local": ["127.0.8.2"]})
    if outage == "stopped":
        dns.stop()
    else:
        dns.pause()
    snapshot = run(path)
    text = everything(snapshot)
    assert ADD_RECORD not in text
    by = {r.verdict.probe.endpoint.server.name: r for r in snapshot.endpoints}
    for report in by.values():
        outcome = report.verdict.checks[Check.DNS_MATCH]
        assert outcome.ok is None
        assert outcome.reason in (Reason.DNS_TIMEOUT, Reason.DNS_ERROR)
    # The certificate is still judged, at the server's own address.
    assert by["EXCH01"].verdict.checks[Check.NAME_MATCH].ok is True
    assert by["EXCH01"].status is Status.WARNING
    assert by["EXCH02"].verdict.checks[Check.NAME_MATCH].ok is False
    # The URL would move onto a name nobody could look up: the what-if counts that
    # as a new finding, so the move is advice that says so.
    steps = [s.text for s in by["EXCH02"].remediation.steps]
    assert any(
        s.startswith("Not written as a command (the what-if finds it would cause EXCH02 ews")
        and "dns_match: mail2.contoso.com" in s
        for s in steps
    ), steps
    # Nothing probed for EXCH03, and not called a failure: a warning, no page.
    exch03 = by["EXCH03"].verdict
    assert exch03.checks[Check.PROBE_OK].ok is None
    assert exch03.checks[Check.PROBE_OK].reason is Reason.SERVER_ADDRESS_UNKNOWN
    assert by["EXCH03"].status is Status.WARNING
    assert 'exchange_internal_url_probe_success{component="ews",server="EXCH03"}' not in text
    # One finding for the nameserver, not one per endpoint.
    assert snapshot.dns.unanswered == 4  # two URL hosts, EXCH03's name, a suggested name
    assert dns.nameserver in (snapshot.dns.message or "")
    assert text.count("DNS FAILING") == 1
    assert "exchange_dns_unanswered_lookups 4.0" in text
    assert snapshot_json(snapshot)["dns"]["unanswered"] == 4


def test_a_missing_record_still_gets_its_command(lab) -> None:
    path, _ = lab({"exch02.contoso.local": ["127.0.8.2"]})  # mail* do not exist
    snapshot = run(path)
    by = {r.verdict.probe.endpoint.server.name: r for r in snapshot.endpoints}
    assert by["EXCH01"].verdict.checks[Check.DNS_MATCH].reason is Reason.NXDOMAIN
    commands = {
        server: [s.text for s in by[server].remediation.steps if s.kind is StepKind.DNS]
        for server in ("EXCH01", "EXCH02")
    }
    assert commands["EXCH01"] == [
        "Add-DnsServerResourceRecordA -ZoneName 'contoso.com' -Name 'mail' -IPv4Address '127.0.8.1'"
    ]
    assert commands["EXCH02"] == [
        "Add-DnsServerResourceRecordA -ZoneName 'contoso.com' -Name 'mail2' "
        "-IPv4Address '127.0.8.2'"
    ]
    assert snapshot.dns.unanswered == 0
    assert snapshot.dns.message is None
    # Control: a server name that does not exist is a failure, not an outage.
    assert by["EXCH03"].verdict.checks[Check.PROBE_OK].ok is False
    assert "DNS FAILING" not in everything(snapshot)
