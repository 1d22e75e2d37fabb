"""The alert rules, through Debian's promtool: `check rules`, then `test rules` with
realistic series and the exact annotation text, including each component's command
as the remediation module writes it. A healthy endpoint sits beside every firing one.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from exporter.model import Component, ExchangeVersion
from exporter.remediation.command import render
from exporter.remediation.kb940726 import recycle_autodiscover_command, set_url_command

ROOT = Path(__file__).parent.parent
RULES = ROOT / "alerts" / "exchange-certificates.rules.yml"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
DAY = 86400


def labels(**items: str) -> str:
    inner = ",".join(f'{k}="{_esc(v)}"' for k, v in items.items())
    return "{" + inner + "}"


def _esc(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def series(name: str, values: str, **items: str) -> dict[str, str]:
    return {"series": name + labels(**items), "values": values}


def info(server: str, component: str, url: str, suggested: str = "", host: str = "") -> dict:
    return series(
        "exchange_internal_url_info",
        "1x200",
        server=server,
        component=component,
        url=url,
        host=host or url.split("/")[2],
        suggested_url=suggested,
        version="2016",
        site="HQ",
    )


def run_promtool(tmp_path: Path, tests: list[dict[str, Any]]) -> subprocess.CompletedProcess[str]:
    shutil.copy(RULES, tmp_path / "rules.yml")
    (tmp_path / "test.yml").write_text(
        yaml.safe_dump(
            {"rule_files": ["rules.yml"], "evaluation_interval": "1m", "tests": tests},
            sort_keys=False,
            width=1000,
        )
    )
    return subprocess.run(
        [PROMTOOL, "test", "rules", str(tmp_path / "test.yml")],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_rules_are_valid() -> None:
    result = subprocess.run(
        [PROMTOOL, "check", "rules", str(RULES)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 20 rules found" in result.stdout


def test_every_contract_alert_exists() -> None:
    names = [r["alert"] for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]]
    assert names == [
        "ExchangeInternalUrlCertNameMismatch",
        "ExchangeInternalUrlCertIssuerUntrusted",
        "ExchangeInternalUrlClientRejects",
        "ExchangeInternalUrlCertDateInvalid",
        "ExchangeInternalUrlCertExpiringSoon",
        "ExchangeInternalUrlCertExpiryCritical",
        "ExchangeAuthCertificateExpiring",
        "ExchangeAuthCertificateExpiring",
        "ExchangeBackEndCertificateExpiring",
        "ExchangeBackEndCertificateExpiring",
        "ExchangeInternalUrlCertRevoked",
        "ExchangeInternalUrlCertRevocationUnavailable",
        "ExchangeInternalUrlChainIncomplete",
        "ExchangeCertificateInconsistent",
        "ExchangeCertificateChanged",
        "ExchangeInternalUrlDnsMismatch",
        "ExchangeInternalUrlProbeFailing",
        "ExchangeDiscoveryFailing",
        "ExchangeExporterStale",
        "ExchangeExporterConfigReloadFailed",
    ]


PATHS = {
    Component.AUTODISCOVER: "/Autodiscover/Autodiscover.xml",
    Component.EWS: "/EWS/Exchange.asmx",
    Component.OAB: "/OAB",
    Component.UM: "/UnifiedMessaging/Service.asmx",
    Component.OWA: "/owa",
    Component.ECP: "/ecp",
    Component.EAS: "/Microsoft-Server-ActiveSync",
    Component.MAPI: "/mapi",
    Component.OUTLOOK_ANYWHERE: "/rpc/rpcproxy.dll",
}


VDIRS = [c for c in Component if c.is_virtual_directory]


@pytest.mark.parametrize("component", VDIRS, ids=[c.value for c in VDIRS])
def test_name_mismatch_carries_the_exact_fix(tmp_path: Path, component: Component) -> None:
    version = ExchangeVersion.E2007 if component is Component.UM else ExchangeVersion.E2016
    url = f"https://exch01.contoso.local{PATHS[component]}"
    suggested = f"https://mail.contoso.com{PATHS[component]}"
    value = "mail.contoso.com" if component is Component.OUTLOOK_ANYWHERE else suggested
    steps = [
        "Add-DnsServerResourceRecordA -ZoneName 'contoso.com' -Name 'mail' "
        "-IPv4Address '10.0.0.21'",
        render(set_url_command("EXCH01", component, version, value)),
    ]
    if component is Component.AUTODISCOVER:
        steps.append(render(recycle_autodiscover_command("exch01.contoso.local")))
    ep = {"server": "EXCH01", "component": component.value}
    healthy = {"server": "EXCH02", "component": component.value}
    input_series = [
        series("exchange_internal_url_cert_match", "0x30", **ep),
        series("exchange_internal_url_cert_match", "1x30", **healthy),
        info("EXCH01", component.value, url, suggested),
        info("EXCH02", component.value, url.replace("exch01", "exch02"), ""),
        *[
            series(
                "exchange_internal_url_remediation_info",
                "1x30",
                **ep,
                step=f"{n:02d}",
                kind="command",
                text=text,
            )
            for n, text in enumerate(steps, start=1)
        ],
    ]
    expected = {
        "summary": f"Outlook warns on EXCH01 {component.value}: the certificate does not "
        "name exch01.contoso.local",
        "description": f'Domain-joined Outlook clients that use {url} get "The name of the '
        "security certificate is invalid or does not match the name of the "
        'site" (Microsoft KB 940726): the certificate EXCH01 presents does not '
        f"name exch01.contoso.local. Move the internal URL to {suggested}, a "
        "name the certificate carries.",
        "remediation": "".join(f"{s}\n" for s in steps),
    }
    result = run_promtool(
        tmp_path,
        [
            {
                "interval": "1m",
                "input_series": input_series,
                "alert_rule_test": [
                    {
                        "eval_time": "5m",
                        "alertname": "ExchangeInternalUrlCertNameMismatch",
                        "exp_alerts": [],
                    },  # not yet: for 10m
                    {
                        "eval_time": "15m",
                        "alertname": "ExchangeInternalUrlCertNameMismatch",
                        "exp_alerts": [
                            {
                                "exp_labels": {
                                    **ep,
                                    "severity": "critical",
                                    "url": url,
                                    "host": "exch01.contoso.local",
                                    "suggested_url": suggested,
                                    "version": "2016",
                                    "site": "HQ",
                                },
                                "exp_annotations": expected,
                            }
                        ],
                    },
                ],
            }
        ],
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _single(
    tmp_path,
    alertname,
    input_series,
    eval_time,
    exp_labels,
    exp_annotations,
    early: str | None = None,
):
    tests = []
    if early:
        tests.append({"eval_time": early, "alertname": alertname, "exp_alerts": []})
    tests.append(
        {
            "eval_time": eval_time,
            "alertname": alertname,
            "exp_alerts": [{"exp_labels": exp_labels, "exp_annotations": exp_annotations}],
        }
    )
    result = run_promtool(
        tmp_path, [{"interval": "1m", "input_series": input_series, "alert_rule_test": tests}]
    )
    assert result.returncode == 0, result.stdout + result.stderr


EP = {"server": "EXCH01", "component": "ews"}
URL = "https://mail.contoso.com/EWS/Exchange.asmx"
JOINED = {
    **EP,
    "url": URL,
    "host": "mail.contoso.com",
    "version": "2016",  # "" = no label
    "site": "HQ",
}
FIX = "Renew certificate 1BAB on EXCH01, then Enable-ExchangeCertificate -Server EXCH01"


def _context() -> list[dict]:
    """What every endpoint alert joins: both endpoints' info, and EXCH01's fix."""
    return [
        info("EXCH01", "ews", URL),
        info("EXCH02", "ews", URL.replace("mail", "mail2")),
        series(
            "exchange_internal_url_remediation_info",
            "1x200",
            **EP,
            step="01",
            kind="advice",
            text=FIX,
        ),
    ]


def _base(metric: str, bad: str) -> list[dict]:
    return [
        series(metric, bad, **EP),
        series(metric, "1x200", server="EXCH02", component="ews"),
        *_context(),
    ]


def test_client_rejects(tmp_path: Path) -> None:
    """A family beyond Outlook refuses a certificate Outlook accepts: critical, with
    the fix; not when Outlook's own checks already page for the endpoint."""
    accepts = "exchange_internal_url_client_accepts"
    inputs = [
        series(accepts, "0x30", **EP, client="browser"),
        series(accepts, "1x30", **EP, client="outlook"),
        series(accepts, "1x30", server="EXCH02", component="ews", client="browser"),
        series("exchange_internal_url_cert_match", "1x30", **EP),
        *_context(),
    ]
    _single(
        tmp_path,
        "ExchangeInternalUrlClientRejects",
        inputs,
        "15m",
        {**JOINED, "client": "browser", "severity": "critical"},
        {
            "summary": "browser clients refuse the certificate of EXCH01 ews, which Outlook "
            "accepts",
            "description": "Users of browser clients (apple: iPhones, iPads and Macs; "
            f"browser: Edge and Chrome) that use {URL} get a certificate error Outlook does "
            "not show (client_rejects): the rule they refuse it by is on the exporter's page "
            "and in its JSON. The fix requests a certificate every client accepts.",
            "remediation": FIX + "\n",
        },
        early="5m",
    )
    # Negative control: the name check fails too, so Outlook's alert pages instead.
    mismatch = [
        series(accepts, "0x30", **EP, client="apple"),
        series("exchange_internal_url_cert_match", "0x30", **EP),
        *_context(),
    ]
    result = run_promtool(
        tmp_path,
        [
            {
                "interval": "1m",
                "input_series": mismatch,
                "alert_rule_test": [
                    {
                        "eval_time": "15m",
                        "alertname": "ExchangeInternalUrlClientRejects",
                        "exp_alerts": [],
                    }
                ],
            }
        ],
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_issuer_untrusted(tmp_path: Path) -> None:
    _single(
        tmp_path,
        "ExchangeInternalUrlCertIssuerUntrusted",
        [
            *_base("exchange_internal_url_cert_issuer_trusted", "0x30"),
            series(
                "exchange_internal_url_problem_info",
                "1x30",
                **EP,
                check="issuer_trusted",
                reason="incomplete_chain",
            ),
        ],
        "15m",
        {**JOINED, "severity": "critical"},
        {
            "summary": "Outlook warns on EXCH01 ews: the certificate's issuer is not trusted",
            "description": f"Domain-joined Outlook clients that use {URL} get a certificate "
            "warning: the chain EXCH01 presents does not build to a trusted root "
            "(incomplete_chain).",
            "remediation": FIX + "\n",
        },
        early="5m",
    )


def test_revoked(tmp_path: Path) -> None:
    _single(
        tmp_path,
        "ExchangeInternalUrlCertRevoked",
        [
            *_base("exchange_internal_url_cert_not_revoked", "0x30"),
            series(
                "exchange_internal_url_problem_info",
                "1x30",
                **EP,
                check="not_revoked",
                reason="revoked",
            ),
        ],
        "15m",
        {**JOINED, "severity": "critical"},
        {
            "summary": "EXCH01 ews presents a revoked certificate",
            "description": f"Outlook and Windows refuse {URL}: a certificate of the chain "
            "EXCH01 presents is revoked (revoked). Issue and bind a new certificate.",
            "remediation": FIX + "\n",
        },
        early="5m",
    )


@pytest.mark.parametrize("reason", ["revocation_unavailable", "crl_expired"])
def test_revocation_unavailable(tmp_path: Path, reason: str) -> None:
    problem = {"check": "not_revoked", "reason": reason}
    _single(
        tmp_path,
        "ExchangeInternalUrlCertRevocationUnavailable",
        [
            series("exchange_internal_url_problem_info", "1x100", **EP, **problem),
            # Control: EXCH02's other problem is not a revocation one.
            series(
                "exchange_internal_url_problem_info",
                "1x100",
                server="EXCH02",
                component="ews",
                check="dns_match",
                reason="nxdomain",
            ),
            *_context(),
        ],
        "65m",
        {**JOINED, **problem, "severity": "warning"},
        {
            "summary": f"Revocation of EXCH01 ews's certificate cannot be checked ({reason})",
            "description": "No CRL distribution point or OCSP responder of the chain EXCH01 "
            f"presents for {URL} gave a usable answer. Outlook does not warn by default, but "
            "Exchange marks the certificate RevocationCheckFailure and strict clients fail. "
            "Publish a fresh CRL on the CA and make the CDP reachable.",
            "remediation": FIX + "\n",
        },
        early="30m",
    )


def test_chain_incomplete(tmp_path: Path) -> None:
    _single(
        tmp_path,
        "ExchangeInternalUrlChainIncomplete",
        _base("exchange_internal_url_chain_complete", "0x100"),
        "65m",
        {**JOINED, "severity": "warning"},
        {
            "summary": "EXCH01 ews does not send its intermediate certificate",
            "description": f"Windows fetches the missing intermediate for {URL} over AIA, so "
            "Outlook shows nothing, but phones (ActiveSync) and non-Windows clients fail. "
            "Install the intermediate on EXCH01 so the server sends the whole chain.",
            "remediation": FIX + "\n",
        },
        early="30m",
    )


def test_certificate_inconsistent(tmp_path: Path) -> None:
    _single(
        tmp_path,
        "ExchangeCertificateInconsistent",
        _base("exchange_internal_url_cert_consistent", "0x100"),
        "65m",
        {**JOINED, "severity": "warning"},
        {
            "summary": "EXCH01 ews presents another certificate than the one mail.contoso.com "
            "should present",
            "description": "The servers that answer mail.contoso.com do not present the same "
            f"certificate: EXCH01 presents another one for {URL} than the namespace's target "
            "(chosen by health: trusted, valid, outside the warning threshold, naming every "
            "host; then the longest validity), and will fail apart from the others. The steps "
            "below copy the target to EXCH01 and enable it, or say why no certificate "
            "qualifies and to request one.",
            "remediation": FIX + "\n",
        },
        early="30m",
    )


def test_certificate_changed_is_informational(tmp_path: Path) -> None:
    renewed = f"{1.7e9:.0f}x30 {1.8e9:.0f}x100"  # notBefore moves at minute 31
    tests = [
        {"eval_time": "20m", "alertname": "ExchangeCertificateChanged", "exp_alerts": []},
        {
            "eval_time": "40m",
            "alertname": "ExchangeCertificateChanged",
            "exp_alerts": [
                {
                    "exp_labels": {**JOINED, "severity": "info"},
                    "exp_annotations": {
                        "summary": "EXCH01 ews presents a new certificate",
                        "description": f"The certificate EXCH01 presents for {URL} changed in "
                        "the last hour (a renewal was bound). For information: check that "
                        "every server of mail.contoso.com got it.",
                    },
                }
            ],
        },
        # An hour after the change it is over.
        {"eval_time": "125m", "alertname": "ExchangeCertificateChanged", "exp_alerts": []},
    ]
    series_in = [
        series("exchange_internal_url_cert_not_before_timestamp_seconds", renewed, **EP),
        # Control: EXCH02's certificate never changes.
        series(
            "exchange_internal_url_cert_not_before_timestamp_seconds",
            f"{1.7e9:.0f}x130",
            server="EXCH02",
            component="ews",
        ),
        *_context(),
    ]
    result = run_promtool(
        tmp_path, [{"interval": "1m", "input_series": series_in, "alert_rule_test": tests}]
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_date_invalid(tmp_path: Path) -> None:
    _single(
        tmp_path,
        "ExchangeInternalUrlCertDateInvalid",
        [
            *_base("exchange_internal_url_cert_date_valid", "0x30"),
            series(
                "exchange_internal_url_problem_info",
                "1x30",
                **EP,
                check="date_valid",
                reason="expired",
            ),
        ],
        "15m",
        {**JOINED, "severity": "critical"},
        {
            "summary": "Outlook warns on EXCH01 ews: the certificate is expired or not yet valid",
            "description": f"Domain-joined Outlook clients that use {URL} get a certificate "
            "warning: the certificate EXCH01 presents is outside its validity "
            "(expired).",
            "remediation": FIX + "\n",
        },
    )


def _expiry_series(leaf_days: float, chain_days: float) -> list[dict]:
    # time() is 0 at the start of a promtool test; values are notAfter timestamps.
    return [
        series(
            "exchange_internal_url_cert_not_after_timestamp_seconds",
            f"{int(leaf_days * DAY)}x200",
            **EP,
        ),
        series(
            "exchange_internal_url_chain_not_after_timestamp_seconds",
            f"{int(chain_days * DAY)}x200",
            **EP,
        ),
        series(
            "exchange_internal_url_cert_not_after_timestamp_seconds",
            f"{400 * DAY}x200",
            server="EXCH02",
            component="ews",
        ),
        series(
            "exchange_internal_url_chain_not_after_timestamp_seconds",
            f"{400 * DAY}x200",
            server="EXCH02",
            component="ews",
        ),
        *_context(),
    ]


def test_leaf_expiring_soon(tmp_path: Path) -> None:
    # At 2h the leaf has 20 days left minus 2h.
    _single(
        tmp_path,
        "ExchangeInternalUrlCertExpiringSoon",
        _expiry_series(20, 20),
        "2h",
        {**JOINED, "severity": "warning", "certificate": "leaf"},
        {
            "summary": "The leaf certificate on EXCH01 ews expires in 19d 22h 0m 0s",
            "description": f"The certificate that EXCH01 presents on {URL} expires in "
            "19d 22h 0m 0s; after that every Outlook client warns.",
            "remediation": FIX + "\n",
        },
        early="30m",
    )


def test_chain_expiring_soon_is_reported_as_chain(tmp_path: Path) -> None:
    _single(
        tmp_path,
        "ExchangeInternalUrlCertExpiringSoon",
        _expiry_series(300, 20),
        "2h",
        {**JOINED, "severity": "warning", "certificate": "chain"},
        {
            "summary": "The chain certificate on EXCH01 ews expires in 19d 22h 0m 0s",
            "description": "The earliest-expiring certificate in the chain that EXCH01 "
            f"presents on {URL} expires in 19d 22h 0m 0s; after that every "
            "Outlook client warns.",
            "remediation": FIX + "\n",
        },
    )


def test_expiry_critical(tmp_path: Path) -> None:
    _single(
        tmp_path,
        "ExchangeInternalUrlCertExpiryCritical",
        _expiry_series(3, 3),
        "20m",
        {**JOINED, "severity": "critical", "certificate": "leaf"},
        {
            "summary": "The leaf certificate on EXCH01 ews expires in 2d 23h 40m 0s",
            "description": f"The certificate that EXCH01 presents on {URL} expires in "
            "2d 23h 40m 0s; after that every Outlook client warns. Renew it now.",
            "remediation": FIX + "\n",
        },
    )


def test_dns_mismatch(tmp_path: Path) -> None:
    dns_fix = (
        'Add-DnsServerResourceRecordA -ZoneName "contoso.com" -Name "mail" -IPv4Address 10.0.0.21'
    )
    input_series = _base("exchange_internal_url_dns_match", "0x30")
    input_series[-1] = series(
        "exchange_internal_url_remediation_info", "1x30", **EP, step="01", kind="dns", text=dns_fix
    )
    input_series.append(
        series(
            "exchange_internal_url_problem_info", "1x30", **EP, check="dns_match", reason="nxdomain"
        )
    )
    _single(
        tmp_path,
        "ExchangeInternalUrlDnsMismatch",
        input_series,
        "20m",
        {**JOINED, "severity": "warning"},
        {
            "summary": "mail.contoso.com does not resolve to EXCH01 in internal DNS",
            "description": f"Internal clients resolving mail.contoso.com (from {URL}) do not "
            "reach EXCH01 (nxdomain).",
            "remediation": dns_fix + "\n",
        },
        early="10m",
    )


def test_probe_failing(tmp_path: Path) -> None:
    _single(
        tmp_path,
        "ExchangeInternalUrlProbeFailing",
        [
            *_base("exchange_internal_url_probe_success", "0x60"),
            series(
                "exchange_internal_url_problem_info",
                "1x60",
                **EP,
                check="probe_ok",
                reason="timeout",
            ),
        ],
        "40m",
        {**JOINED, "severity": "warning"},
        {
            "summary": "No TLS handshake with EXCH01 for ews",
            "description": f"The exporter has not completed a TLS handshake on {URL} for 30 "
            "minutes (timeout): its certificate cannot be judged, and clients may "
            "not reach it either.",
        },
        early="20m",
    )


def test_discovery_failing(tmp_path: Path) -> None:
    _single(
        tmp_path,
        "ExchangeDiscoveryFailing",
        [
            series("exchange_discovery_success", "0x60", source="ldap"),
            series("exchange_discovery_success", "1x60", source="static"),
        ],
        "40m",
        {"source": "ldap", "severity": "warning"},
        {
            "summary": "Exchange discovery from ldap is failing",
            "description": "The exporter cannot read the Exchange inventory from ldap; it keeps "
            "probing the last good inventory, so new or changed URLs go unchecked. "
            "The reason is on the exporter's page and in /api/v1/status.",
        },
    )


def test_exporter_stale(tmp_path: Path) -> None:
    stale = {"job": "exchange-cert", "instance": "a:9940"}
    fresh = {"job": "exchange-cert", "instance": "b:9940"}
    _single(
        tmp_path,
        "ExchangeExporterStale",
        [
            # a: refreshed at t=0 and never again; b: refreshes every minute.
            series("exchange_exporter_last_refresh_timestamp_seconds", "0x60", **stale),
            series("exchange_exporter_last_refresh_timestamp_seconds", "0+60x60", **fresh),
            series("exchange_exporter_refresh_interval_seconds", "60x60", **stale),
            series("exchange_exporter_refresh_interval_seconds", "60x60", **fresh),
        ],
        "30m",
        {**stale, "severity": "warning"},
        {
            "summary": "exchange-cert-exporter a:9940 is not refreshing",
            "description": "exchange-cert-exporter at a:9940 is down or has not completed a "
            "refresh for more than three intervals: its certificate verdicts are "
            "out of date.",
        },
        early="8m",
    )


def test_exporter_down_is_stale_too(tmp_path: Path) -> None:
    target = {"job": "exchange-cert", "instance": "a:9940"}
    _single(
        tmp_path,
        "ExchangeExporterStale",
        [
            series("up", "1x10 0x50", **target),
            series("exchange_exporter_build_info", "1x10", **target, version="0.1.0"),
            series("up", "1x60", job="node", instance="n:9100"),
        ],
        "30m",
        {**target, "severity": "warning"},
        {
            "summary": "exchange-cert-exporter a:9940 is not refreshing",
            "description": "exchange-cert-exporter at a:9940 is down or has not completed a "
            "refresh for more than three intervals: its certificate verdicts are "
            "out of date.",
        },
    )


def test_config_reload_failed(tmp_path: Path) -> None:
    """Issue #26 item 4: a reload that fails for 10 minutes warns, saying how long
    the old config has been in force; one fixed within minutes (c) does not."""
    failing = {"job": "exchange-cert", "instance": "a:9940"}
    fine = {"job": "exchange-cert", "instance": "b:9940"}
    fixed = {"job": "exchange-cert", "instance": "c:9940"}
    loaded = "exchange_exporter_config_last_reload_success_timestamp_seconds"
    _single(
        tmp_path,
        "ExchangeExporterConfigReloadFailed",
        [
            # a: loaded at t=0, a reload fails at 11m and nothing fixes it.
            series("exchange_exporter_config_last_reload_successful", "1x10 0x50", **failing),
            series(loaded, "0x60", **failing),
            series("exchange_exporter_config_last_reload_successful", "1x60", **fine),
            series(loaded, "0x60", **fine),
            # c: a typo at 11m, fixed and reloaded at 15m.
            series("exchange_exporter_config_last_reload_successful", "1x10 0x3 1x46", **fixed),
            series(loaded, "0x14 900x45", **fixed),
        ],
        "30m",
        {**failing, "severity": "warning"},
        {
            "summary": "exchange-cert-exporter a:9940 did not load its changed configuration",
            "description": "The last reload of exchange-cert-exporter at a:9940 (POST /-/reload "
            "or SIGHUP) failed: it keeps probing with the configuration it loaded 30m 0s ago, "
            "so the edit is not in force. Each problem's file, line and key are on the "
            'exporter\'s page and in /api/v1/status ("reload").',
        },
        early="20m",
    )


AUTH_URL = "https://exch01.contoso.local/autodiscover/metadata/json/1"
BACKEND_URL = "https://exch01.contoso.local:444/"
ROTATE = (
    "$auth = New-ExchangeCertificate -KeySize 2048 -PrivateKeyExportable $true "
    '-SubjectName "cn=Microsoft Exchange Server Auth Certificate" ...'
)


def _surface_series(component: str, url: str, days: float, fix: str) -> list[dict]:
    return [
        series(
            "exchange_internal_url_cert_not_after_timestamp_seconds",
            f"{int(days * DAY)}x200",
            server="EXCH01",
            component=component,
        ),
        series(
            "exchange_internal_url_chain_not_after_timestamp_seconds",
            f"{int(days * DAY)}x200",
            server="EXCH01",
            component=component,
        ),
        info("EXCH01", component, url, host="exch01.contoso.local"),
        series(
            "exchange_internal_url_remediation_info",
            "1x200",
            server="EXCH01",
            component=component,
            step="01",
            kind="command",
            text=fix,
        ),
    ]


def _surface_labels(component: str, url: str, severity: str) -> dict[str, str]:
    return {
        "server": "EXCH01",
        "component": component,
        "url": url,
        "host": "exch01.contoso.local",
        "version": "2016",
        "site": "HQ",
        "severity": severity,
    }


AUTH_DESCRIPTION = (
    f"The organisation's Auth certificate, published in {AUTH_URL}, signs the tokens "
    "Exchange servers exchange: when it expires, OWA and ECP sign-in fail and hybrid "
    "free/busy and mailbox moves stop. Rotate it with Set-AuthConfig."
)


@pytest.mark.parametrize(
    ("days", "severity", "left"),
    [(20, "warning", "19d 22h 0m 0s"), (10, "critical", "9d 22h 0m 0s")],
)
def test_auth_certificate_expiring_on_its_own_thresholds(
    tmp_path: Path, days: int, severity: str, left: str
) -> None:
    inputs = _surface_series("auth_certificate", AUTH_URL, days, ROTATE)
    result = run_promtool(
        tmp_path,
        [
            {
                "interval": "1m",
                "input_series": inputs,
                "alert_rule_test": [
                    {
                        "eval_time": "2h",
                        "alertname": "ExchangeAuthCertificateExpiring",
                        "exp_alerts": [
                            {
                                "exp_labels": _surface_labels(
                                    "auth_certificate", AUTH_URL, severity
                                ),
                                "exp_annotations": {
                                    "summary": "The Exchange Auth certificate (seen from "
                                    f"EXCH01) expires in {left}",
                                    "description": AUTH_DESCRIPTION,
                                    "remediation": ROTATE + "\n",
                                },
                            }
                        ],
                    },
                    # Not the generic alerts: their 30/7 days and "Outlook warns" are not
                    # this certificate's.
                    {
                        "eval_time": "2h",
                        "alertname": "ExchangeInternalUrlCertExpiringSoon",
                        "exp_alerts": [],
                    },
                    {
                        "eval_time": "2h",
                        "alertname": "ExchangeInternalUrlCertExpiryCritical",
                        "exp_alerts": [],
                    },
                ],
            }
        ],
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_auth_certificate_far_from_expiry_is_quiet(tmp_path: Path) -> None:
    inputs = _surface_series("auth_certificate", AUTH_URL, 90, ROTATE)
    result = run_promtool(
        tmp_path,
        [
            {
                "interval": "1m",
                "input_series": inputs,
                "alert_rule_test": [
                    {
                        "eval_time": "2h",
                        "alertname": "ExchangeAuthCertificateExpiring",
                        "exp_alerts": [],
                    }
                ],
            }
        ],
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_back_end_certificate_expired(tmp_path: Path) -> None:
    fix = "Renew the Exchange Back End certificate on EXCH01 ..."
    inputs = _surface_series("backend", BACKEND_URL, -2, fix)
    result = run_promtool(
        tmp_path,
        [
            {
                "interval": "1m",
                "input_series": inputs,
                "alert_rule_test": [
                    {
                        "eval_time": "20m",
                        "alertname": "ExchangeBackEndCertificateExpiring",
                        "exp_alerts": [
                            {
                                "exp_labels": _surface_labels("backend", BACKEND_URL, "critical"),
                                "exp_annotations": {
                                    "summary": "The back end certificate on EXCH01 has expired",
                                    "description": "EXCH01's Exchange Back End site "
                                    f"({BACKEND_URL}) presents a certificate that has expired: "
                                    "the front end proxies OWA, ECP, EWS, MAPI and ActiveSync "
                                    "to it, and they fail for every user once it expires.",
                                    "remediation": fix + "\n",
                                },
                            }
                        ],
                    },
                    {
                        "eval_time": "20m",
                        "alertname": "ExchangeInternalUrlCertDateInvalid",
                        "exp_alerts": [],
                    },
                ],
            }
        ],
    )
    assert result.returncode == 0, result.stdout + result.stderr
