"""Directory + internal DNS + TLS servers: `report --format json` and `serve` judge
every discovered endpoint, and a directory outage is visible without losing any."""

from __future__ import annotations

import json
import time

from exporter.lab.pki import CA
from tests.ad_data import organisation
from tests.conftest import LDAP_PASSWORD, run_exporter
from tests.peers.slapd import BIND_DN
from tests.test_serve import samples, value


def _config(slapd, tls_port, dns, root_file, password_file, ldap_ca, **extra):
    return {
        "ldap": {
            "url": slapd.ldaps_url,
            "bind_dn": BIND_DN,
            "bind_password_file": str(password_file),
            "ca_file": str(ldap_ca),
            "timeout": "2s",
            "servers": ["EXCH07", "EXCH10", "EXCH16"],
            **extra,
        },
        "trust": {"ca_files": [str(root_file)], "system": False},
        "dns": {"nameservers": [dns.nameserver], "timeout": "2s"},
        "probe": {"interval": "3s", "timeout": "2s", "concurrency": 8},
    }


def test_report_json_for_discovered_endpoints(
    make_slapd,
    make_tls,
    make_dns,
    write_config,
    root_file,
    password_file,
    ldap_tls_files,
    issuing_ca: CA,
) -> None:
    tls = make_tls("127.0.5.1", issuing_ca.issue("mail.contoso.com"))
    slapd = make_slapd(organisation(port=tls.port))
    dns = make_dns({f"exch{n}.contoso.local": ["127.0.5.1"] for n in ("07", "10", "16")})
    path = write_config(
        _config(slapd, tls.port, dns, root_file, password_file, ldap_tls_files["ca"])
    )
    result = run_exporter("report", "--config.file", str(path), "--format", "json")
    assert result.returncode == 2, result.stderr
    data = json.loads(result.stdout)
    (ldap,) = data["discovery"]
    assert ldap["source"] == "ldap"
    assert ldap["success"] is True
    eps = {(e["server"], e["component"]): e for e in data["endpoints"]}
    # EXCH07: SCP EWS OAB UM; EXCH10: SCP EWS OWA; EXCH16: 8, its back end and auth metadata
    assert len(eps) == 4 + 3 + 10
    ews16 = eps[("EXCH16", "ews")]
    assert ews16["version"] == "2016"
    assert ews16["site"] == "HQ"
    assert ews16["source"] == "ldap"
    assert ews16["status"] == "critical"
    assert ews16["checks"]["name_match"] is False
    # mail.contoso.com does not resolve: its record comes before the URL moved onto it.
    record = (
        "Add-DnsServerResourceRecordA -ZoneName 'contoso.com' -Name 'mail' -IPv4Address '127.0.5.1'"
    )
    assert ews16["remediation"][:2] == [
        record,
        "Set-WebServicesVirtualDirectory -Identity 'EXCH16\\EWS (Default Web Site)' "
        f"-InternalUrl 'https://mail.contoso.com:{tls.port}/EWS/Exchange.asmx'",
    ]
    assert eps[("EXCH16", "autodiscover")]["site_scope"] == ["HQ"]
    assert eps[("EXCH16", "autodiscover")]["remediation"][0] == record
    assert eps[("EXCH16", "autodiscover")]["remediation"][1].startswith(
        "Set-ClientAccessService -Identity 'EXCH16' "
    )
    assert eps[("EXCH07", "autodiscover")]["remediation"][0] == record
    assert eps[("EXCH07", "autodiscover")]["remediation"][1].startswith(
        "Set-ClientAccessServer -Identity 'EXCH07' "
    )
    assert eps[("EXCH07", "um")]["remediation"][0] == record
    assert eps[("EXCH07", "um")]["remediation"][1].startswith(
        "Set-UMVirtualDirectory -Identity 'EXCH07\\UnifiedMessaging (Default Web Site)' "
    )
    oab07 = eps[("EXCH07", "oab")]
    assert oab07["status"] == "warning"
    assert oab07["reasons"]["probe_ok"]["code"] == "plain_http"
    owa10 = eps[("EXCH10", "owa")]
    assert owa10["url"] == ""
    assert owa10["reasons"]["probe_ok"]["code"] == "no_internal_url"
    assert owa10["status"] == "warning"
    assert eps[("EXCH10", "ews")]["external_url"] == "https://mail.contoso.com/EWS/Exchange.asmx"
    assert LDAP_PASSWORD not in result.stdout + result.stderr


def test_serve_keeps_endpoints_when_the_directory_goes_away(
    make_slapd,
    make_tls,
    make_dns,
    write_config,
    root_file,
    password_file,
    ldap_tls_files,
    issuing_ca: CA,
    start_exporter,
) -> None:
    tls = make_tls("127.0.5.2", issuing_ca.issue("mail.contoso.com"))
    slapd = make_slapd(organisation(port=tls.port))
    dns = make_dns({f"exch{n}.contoso.local": ["127.0.5.2"] for n in ("07", "10", "16")})
    path = write_config(
        _config(slapd, tls.port, dns, root_file, password_file, ldap_tls_files["ca"])
    )
    exporter = start_exporter(path, "--log.level", "debug")
    before = samples(exporter.get("/metrics")[1])
    assert value(before, "exchange_discovery_success", source="ldap") == 1
    count = len([k for k in before if k[0] == "exchange_internal_url_status"])
    assert count == 17  # as the report: EXCH16 adds its back end and auth metadata
    slapd.stop()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        m = samples(exporter.get("/metrics")[1])
        if value(m, "exchange_discovery_success", source="ldap") == 0:
            break
        time.sleep(0.2)
    assert value(m, "exchange_discovery_success", source="ldap") == 0
    assert len([k for k in m if k[0] == "exchange_internal_url_status"]) == count
    assert value(m, "exchange_discovery_last_success_timestamp_seconds", source="ldap") == value(
        before, "exchange_discovery_last_success_timestamp_seconds", source="ldap"
    )
    status = json.loads(exporter.get("/api/v1/status")[1])
    (ldap,) = status["discovery"]
    assert ldap["stale"] is True
    assert ldap["reason"] == "unreachable"
    page = exporter.get("/")[1]
    assert "FAILING, using the last good inventory" in page
    logs = exporter.logs()
    for output in (logs, page, exporter.get("/metrics")[1], json.dumps(status)):
        assert LDAP_PASSWORD not in output
    # Logged once when it starts failing (a warning: the last inventory is in use),
    # not at every refresh; once more when it recovers.
    refreshes = logs.count('msg="refresh complete"')
    _wait_for(lambda: exporter.logs().count('msg="refresh complete"') >= refreshes + 2)
    failing = [line for line in exporter.logs().splitlines() if "discovery failing" in line]
    assert len(failing) == 1, failing
    assert " level=warn " in failing[0]
    assert "source=ldap reason=unreachable" in failing[0]
    assert slapd.ldaps_url in failing[0]  # the error names the directory
    slapd.start()
    _wait_for(lambda: "discovery recovered" in exporter.logs())
    (recovered,) = [line for line in exporter.logs().splitlines() if "discovery recovered" in line]
    assert " level=info " in recovered
    assert "source=ldap" in recovered


def _wait_for(condition, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError("condition not met within the timeout")


def test_serve_logs_an_error_when_discovery_leaves_nothing(
    make_slapd,
    make_tls,
    make_dns,
    write_config,
    root_file,
    password_file,
    ldap_tls_files,
    issuing_ca: CA,
    start_exporter,
) -> None:
    tls = make_tls("127.0.5.3", issuing_ca.issue("mail.contoso.com"))
    slapd = make_slapd(organisation(port=tls.port))
    dns = make_dns({})
    path = write_config(
        _config(slapd, tls.port, dns, root_file, password_file, ldap_tls_files["ca"])
    )
    slapd.stop()
    exporter = start_exporter(path)
    _wait_for(lambda: "discovery failing" in exporter.logs())
    (line,) = [x for x in exporter.logs().splitlines() if "discovery failing" in x]
    assert " level=error " in line
    assert "source=ldap reason=unreachable" in line
    page = exporter.get("/")[1]
    assert "discovery ldap failing (unreachable)" in page
