"""`report` as a user runs it: a subprocess, its whole output and exit code."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import lab_config, run_exporter
from tests.pki import CA, DAY, NOW

DATA = Path(__file__).parent / "data" / "config"


def test_json_report_contract(kb_lab) -> None:
    path, port, _ = kb_lab
    result = run_exporter("report", "--config.file", str(path), "--format", "json")
    assert result.returncode == 2, result.stderr
    assert result.stderr == ""
    data = json.loads(result.stdout)
    assert data["status"] == "critical"
    assert [(e["server"], e["component"], e["status"]) for e in data["endpoints"]] == [
        ("EXCH01", "autodiscover", "critical"),
        ("EXCH01", "ews", "critical"),
        ("EXCH01", "oab", "critical"),
        ("EXCH02", "ews", "ok"),
    ]
    ews = data["endpoints"][1]
    assert ews["checks"] == {
        "probe_ok": True,
        "dns_match": True,
        "name_match": False,
        "issuer_trusted": True,
        "date_valid": True,
        "chain_complete": True,
        "not_revoked": None,
        "consistent": True,  # EXCH01's three URLs share its name and one certificate
    }
    assert ews["reasons"]["name_match"]["code"] == "name_mismatch"
    assert ews["reasons"]["issuer_trusted"] is None
    assert ews["reasons"]["chain_complete"] is None
    assert ews["reasons"]["not_revoked"] is None
    assert ews["advisories"] == []
    assert ews["host"] == "exch01.contoso.local"
    assert ews["address"] == "127.0.3.1"
    assert ews["names"] == ["mail.contoso.com", "autodiscover.contoso.com"]
    assert ews["not_after"].endswith("Z")
    assert ews["chain_not_after"].endswith("Z")
    assert ews["suggested_url"] == f"https://mail.contoso.com:{port}/EWS/Exchange.asmx"
    assert ews["remediation"] == [
        "Set-WebServicesVirtualDirectory -Identity 'EXCH01\\EWS (Default Web Site)' "
        f"-InternalUrl 'https://mail.contoso.com:{port}/EWS/Exchange.asmx'"
    ]
    scp = data["endpoints"][0]
    assert scp["remediation"][0].startswith(
        "Set-ClientAccessService -Identity 'EXCH01' -AutodiscoverServiceInternalUri "
        f"'https://mail.contoso.com:{port}/Autodiscover/Autodiscover.xml'"
    )
    assert "MSExchangeAutodiscoverAppPool" in scp["remediation"][1]
    assert data["endpoints"][3]["remediation"] == []
    assert data["discovery"][0]["source"] == "static"


def test_table_report(kb_lab) -> None:
    path, _, _ = kb_lab
    result = run_exporter("report", "--config.file", str(path))
    assert result.returncode == 2
    lines = result.stdout.splitlines()
    assert lines[0].split() == [
        "SERVER",
        "COMPONENT",
        "URL",
        "NAME",
        "ISSUER",
        "DATE",
        "DNS",
        "CHAIN",
        "REVOKED",
        "DAYS",
        "STATUS",
    ]
    assert "\x1b[" not in result.stdout  # not a TTY: no colour
    ews = next(line for line in lines if line.startswith("EXCH01") and " ews " in line)
    assert ews.split()[3:9] == ["FAIL", "ok", "ok", "ok", "ok", "-"]
    assert ews.split()[-1] == "CRITICAL"
    assert any("fix (command): Set-WebServicesVirtualDirectory" in line for line in lines)
    assert lines[-1] == "4 endpoints: 1 ok, 3 critical"


def test_powershell_report(kb_lab) -> None:
    path, port, _ = kb_lab
    result = run_exporter("report", "--config.file", str(path), "--format", "powershell")
    assert result.returncode == 2
    code = [line for line in result.stdout.splitlines() if line and not line.startswith("#")]
    assert code == [
        # A step that fails stops the section.
        "$ErrorActionPreference = 'Stop'",
        "Set-ClientAccessService -Identity 'EXCH01' -AutodiscoverServiceInternalUri "
        f"'https://mail.contoso.com:{port}/Autodiscover/Autodiscover.xml'",
        "Set-WebServicesVirtualDirectory -Identity 'EXCH01\\EWS (Default Web Site)' "
        f"-InternalUrl 'https://mail.contoso.com:{port}/EWS/Exchange.asmx'",
        "Set-OABVirtualDirectory -Identity 'EXCH01\\OAB (Default Web Site)' "
        f"-InternalUrl 'https://mail.contoso.com:{port}/OAB'",
        # The recycle last: after every URL it serves has moved.
        "Invoke-Command -ComputerName 'exch01.contoso.local' -ScriptBlock { Import-Module "
        "-Name 'WebAdministration'; Restart-WebAppPool -Name 'MSExchangeAutodiscoverAppPool' }",
    ]
    assert "# ===== Server EXCH01 (exch01.contoso.local): runs on its own" in result.stdout


def test_exit_codes_ok_and_warning(
    make_tls, make_dns, write_config, root_file, issuing_ca: CA
) -> None:
    ok = make_tls("127.0.3.3", issuing_ca.issue("mail.contoso.com"))
    soon = make_tls("127.0.3.4", issuing_ca.issue("mail.contoso.com", not_after=NOW + 20 * DAY))

    def config(port: int, address: str) -> str:
        dns = make_dns({"mail.contoso.com": [address]})
        return str(
            write_config(
                lab_config(
                    [
                        {
                            "name": "EXCH01",
                            "fqdn": "exch01.contoso.local",
                            "addresses": [address],
                            "urls": {"ews": f"https://mail.contoso.com:{port}/EWS"},
                        }
                    ],
                    dns,
                    [root_file],
                )
            )
        )

    result = run_exporter("report", "--config.file", config(ok.port, "127.0.3.3"))
    assert result.returncode == 0, result.stdout
    assert result.stdout.splitlines()[-1] == "1 endpoint: 1 ok"
    result = run_exporter("report", "--config.file", config(soon.port, "127.0.3.4"))
    assert result.returncode == 1, result.stdout
    assert "expiry: the certificate expires in 20.0 days" in result.stdout


def test_bad_config_is_one_line_exit_2() -> None:
    path = DATA / "invalid-bad-duration.yaml"
    result = run_exporter("report", "--config.file", str(path))
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == (
        f"exchange-cert-exporter: config error: {path}:6: probe.timeout: '10 seconds' is not "
        "a duration such as 800ms, 10s, 5m, 1h30m or 30d\n"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "the following arguments are required: COMMAND"),
        (("report",), "the following arguments are required: --config.file"),
        # argparse quotes choices differently across Python versions: match the stable part.
        (
            ("report", "--config.file", "x", "--format", "xml"),
            "argument --format: invalid choice: 'xml' (choose from ",
        ),
        (("frobnicate",), "argument COMMAND: invalid choice: 'frobnicate' (choose from "),
    ],
)
def test_usage_errors_are_one_line(args, message) -> None:
    result = run_exporter(*args)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith(f"exchange-cert-exporter: error: {message}")
    assert result.stderr.endswith(" (see exchange-cert-exporter --help)\n")
    assert result.stderr.count("\n") == 1


def test_version() -> None:
    result = run_exporter("--version")
    assert result.returncode == 0
    assert result.stdout.startswith("exchange-cert-exporter 0.")


def test_report_into_a_closed_pipe_is_quiet(kb_lab) -> None:
    path, _, _ = kb_lab
    proc = subprocess.Popen(
        [sys.executable, "-m", "exporter", "report", "--config.file", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None
    proc.stdout.close()  # like `| head -0`: the reader is gone before the report is written
    _, err = proc.communicate(timeout=60)
    assert b"Traceback" not in err
    assert err == b""


def test_table_says_why_discovery_found_nothing(tmp_path, password_file) -> None:
    from exporter.lab.pki import CA
    from tests.peers.dnsmasq import free_port

    root = CA().write(tmp_path / "root.pem")
    port = free_port()
    config = tmp_path / "ldap.yaml"
    config.write_text(
        f'ldap: {{url: "ldaps://127.0.0.1:{port}", bind_dn: "CN=x",'
        f' bind_password_file: "{password_file}", timeout: 1s}}\n'
        f'trust: {{ca_files: ["{root}"], system: false}}\n'
    )
    result = run_exporter("report", "--config.file", str(config))
    assert result.returncode == 2
    # A sentence, not an empty table header.
    (line,) = result.stdout.splitlines()
    assert line.startswith(
        f"No endpoints to report: discovery ldap failed (unreachable): ldaps://127.0.0.1:{port}:"
    )
    assert "SERVER" not in result.stdout


def test_table_says_the_inventory_is_empty(tmp_path, root_file) -> None:
    config = tmp_path / "empty.yaml"
    config.write_text(f'servers: []\ntrust: {{ca_files: ["{root_file}"], system: false}}\n')
    result = run_exporter("report", "--config.file", str(config))
    assert result.stdout == (
        "No endpoints to report: the inventory (servers: or ldap:) lists no internal URL.\n"
    )


def test_the_demo_labs_fix_script_runs_top_to_bottom_twice(tmp_path) -> None:
    """Issue #16 item 4: one section per server, each command once, DNS records first
    and guarded (adding one twice fails), the app pool recycle after the URL it
    serves. No PowerShell runs here (none is packaged for Linux on these registries),
    so the structure is asserted."""
    from exporter.lab.scenario import start_lab

    lab = start_lab(tmp_path)
    try:
        result = run_exporter(
            "report", "--config.file", str(lab.config_path), "--format", "powershell"
        )
    finally:
        lab.close()
    sections: dict[str, list[str]] = {}
    current = None
    for line in result.stdout.splitlines():
        if line.startswith("# ===== "):
            current = line.split()[3]
            sections[current] = []
        elif line and not line.startswith("#"):
            assert current is not None, line
            sections[current].append(line)
    assert "EXCH01" in sections
    for server, code in sections.items():
        assert len(code) == len(set(code)), f"{server}: a command appears twice"
        for line in code:
            if "Add-DnsServerResourceRecord" in line:
                assert line.startswith("if ((Resolve-DnsName -Name "), line
                assert "-DnsOnly -ErrorAction 'SilentlyContinue').IPAddress -notcontains '" in line
                assert "') { Add-DnsServerResourceRecord" in line
                assert line.endswith(" }")
    exch01 = sections["EXCH01"]
    dns = [i for i, line in enumerate(exch01) if "Add-DnsServerResourceRecord" in line]
    setters = [i for i, line in enumerate(exch01) if line.startswith("Set-")]
    recycle = [i for i, line in enumerate(exch01) if "Restart-WebAppPool" in line]
    assert dns
    assert setters
    assert recycle
    assert max(dns) < min(setters) < max(setters) < min(recycle)
    # The record four components need, once.
    assert len([x for x in exch01 if "-Name 'mail'" in x and "Add-Dns" in x]) == 1
