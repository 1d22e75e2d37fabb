"""`check` as Nagios runs it: a subprocess against real TLS and DNS peers; the whole
first line, the perfdata syntax and the exit code for every state."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import pytest

from exporter.lab.pki import CA, DAY, NOW, self_signed
from tests.conftest import lab_config, run_exporter
from tests.peers import hostile
from tests.test_exchange_surfaces import AUTH_CN, METADATA, _document

DATA = Path(__file__).parent / "data" / "config"
# 'label'=value[UOM];[warn];[crit];[min];[max] (Monitoring Plugins guidelines, section 2.6)
PERF = re.compile(
    r"^'(?:[^']|'')+'=-?\d+(?:\.\d+)?(?:s|%|B|KB|MB|TB|c)?"
    r"(?:;[@~:\d.-]*){0,4}$"
)


def check(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return run_exporter("check", *args, timeout=timeout)


def split(output: str) -> tuple[str, list[str], list[str]]:
    first, *rest = output.splitlines()
    text, _, perf = first.partition(" | ")
    items = re.findall(r"'(?:[^']|'')+'=\S*", perf)
    assert " ".join(items) == perf  # nothing but well-formed items
    return text, items, rest


def one_endpoint(
    make_tls,
    make_dns,
    write_config,
    root_file,
    cert,
    *,
    host="mail.contoso.com",
    address="127.0.7.1",
):
    tls = make_tls(address, cert)
    dns = make_dns({host: [address], "exch01.contoso.local": [address]})
    config = lab_config(
        [
            {
                "name": "EXCH01",
                "fqdn": "exch01.contoso.local",
                "urls": {"ews": f"https://{host}:{tls.port}/EWS/Exchange.asmx"},
            }
        ],
        dns,
        [root_file],
    )
    return write_config(config), tls, dns


def test_ok(make_tls, make_dns, write_config, root_file, issuing_ca: CA) -> None:
    path, _, _ = one_endpoint(
        make_tls, make_dns, write_config, root_file, issuing_ca.issue("mail.contoso.com")
    )
    result = check("--config.file", str(path))
    assert result.returncode == 0, result.stdout
    text, perf, rest = split(result.stdout)
    assert re.fullmatch(
        r"EXCHANGE-CERT OK - 1 endpoint OK; the nearest expiry is in "
        r"36[45] days \(EXCH01 ews\)",
        text,
    ), text
    assert [p.split("=")[0] for p in perf] == [
        "'EXCH01 ews leaf_days'",
        "'EXCH01 ews chain_days'",
        "'EXCH01 ews time'",
    ]
    assert all(PERF.match(p) for p in perf), perf
    assert perf[0].endswith(";30:;7:;;")
    assert rest == []
    assert result.stderr == ""
    # -v lists the OK endpoint too.
    assert split(check("--config.file", str(path), "-v").stdout)[2][0].startswith(
        "OK EXCH01 ews https://mail.contoso.com:"
    )


def test_warning_on_expiry(make_tls, make_dns, write_config, root_file, issuing_ca: CA) -> None:
    cert = issuing_ca.issue("mail.contoso.com", not_after=NOW + 20 * DAY)
    path, _, _ = one_endpoint(make_tls, make_dns, write_config, root_file, cert)
    result = check("--config.file", str(path))
    assert result.returncode == 1, result.stdout
    text, _perf, rest = split(result.stdout)
    assert re.fullmatch(
        r"EXCHANGE-CERT WARNING - 1 of 1 endpoints warning: EXCH01 ews "
        r"\(expires in (19|20) days\)",
        text,
    ), text
    assert rest[0].startswith("WARNING EXCH01 ews ")
    assert any(line.startswith("  fix: Renew certificate ") for line in rest)
    # Plain-number and range syntax agree; a tighter -w makes it OK (negative control).
    assert check("--config.file", str(path), "-w", "30:", "-c", "7:").returncode == 1
    assert check("--config.file", str(path), "-w", "10", "-c", "5").returncode == 0
    assert check("--config.file", str(path), "-w", "30", "-c", "25").returncode == 2


def test_critical_kb940726_with_its_fix(kb_lab) -> None:
    path, port, _ = kb_lab
    result = check("--config.file", str(path))
    assert result.returncode == 2
    text, perf, rest = split(result.stdout)
    assert text == (
        "EXCHANGE-CERT CRITICAL - 3 of 4 endpoints critical: EXCH01 autodiscover "
        "(name_mismatch), EXCH01 ews (name_mismatch), EXCH01 oab (name_mismatch)"
    )
    assert len(perf) == 12
    assert all(PERF.match(p) for p in perf), perf
    assert (
        "  fix: Set-WebServicesVirtualDirectory -Identity 'EXCH01\\EWS (Default Web Site)' "
        f"-InternalUrl 'https://mail.contoso.com:{port}/EWS/Exchange.asmx'"
    ) in rest
    # Selecting only the healthy server makes it OK.
    assert check("--config.file", str(path), "--server", "EXCH02").returncode == 0
    only = check("--config.file", str(path), "--server", "EXCH01", "--component", "oab")
    assert split(only.stdout)[0].startswith("EXCHANGE-CERT CRITICAL - 1 of 1 endpoints")


def test_the_auth_certificate_graphs_the_thresholds_that_judge_it(
    make_tls, make_dns, write_config, root_file, issuing_ca: CA
) -> None:
    """-w/-c are for the certificates clients see; the Auth certificate is judged on
    thresholds.auth_expiry_* (60 and 14 days), and its perfdata says so, so the graph
    agrees with the state. Its by-design reasons are not listed as problems."""
    address = "127.0.7.5"
    server = make_tls(address, issuing_ca.issue("mail.contoso.com", "exch01.contoso.local"))
    auth = self_signed(AUTH_CN, not_after=NOW + 20 * DAY, san=False)
    server.documents[METADATA] = (200, _document(auth))
    dns = make_dns({"mail.contoso.com": [address], "exch01.contoso.local": [address]})
    urls = {
        "ews": f"https://mail.contoso.com:{server.port}/EWS/Exchange.asmx",
        "auth_certificate": f"https://exch01.contoso.local:{server.port}{METADATA}",
    }
    config = lab_config(
        [{"name": "EXCH01", "fqdn": "exch01.contoso.local", "urls": urls}], dns, [root_file]
    )
    path = write_config(config)

    result = check("--config.file", str(path), "--component", "auth_certificate", "-w", "10")
    assert result.returncode == 1, result.stdout
    text, perf, rest = split(result.stdout)
    assert re.fullmatch(
        r"EXCHANGE-CERT WARNING - 1 of 1 endpoints warning: EXCH01 auth_certificate "
        r"\(expires in (19|20) days\)",
        text,
    ), text
    assert "self_signed_by_design" not in result.stdout
    leaf, chain, _time = perf
    assert re.fullmatch(r"'EXCH01 auth_certificate leaf_days'=(19|20)\.\d\d;60:;14:;;", leaf)
    assert chain.endswith(";60:;14:;;")
    assert all(PERF.match(p) for p in perf), perf
    assert rest[0].startswith("WARNING EXCH01 auth_certificate ")

    # Control: in the same run, the endpoint -w/-c judge carries -w/-c.
    both = split(check("--config.file", str(path), "-w", "10", "-c", "5").stdout)[1]
    assert [p.split("=")[0] for p in both] == [
        "'EXCH01 ews leaf_days'",
        "'EXCH01 ews chain_days'",
        "'EXCH01 ews time'",
        "'EXCH01 auth_certificate leaf_days'",
        "'EXCH01 auth_certificate chain_days'",
        "'EXCH01 auth_certificate time'",
    ]
    assert both[0].endswith(";10:;5:;;")
    assert both[3].endswith(";60:;14:;;")

    # The config's own Auth thresholds are the ones graphed (36h is 1.5 days), and
    # they decide the state: 20 days is OK against 15.
    config["thresholds"] = {"auth_expiry_warning": "15d", "auth_expiry_critical": "36h"}
    path = write_config(config)
    result = check("--config.file", str(path), "--component", "auth_certificate")
    assert result.returncode == 0, result.stdout
    assert split(result.stdout)[1][0].endswith(";15:;1.5:;;")


def test_ad_hoc_url(make_tls, make_dns, root_file, issuing_ca: CA) -> None:
    tls = make_tls("127.0.7.2", issuing_ca.issue("mail.contoso.com"))
    dns = make_dns({"mail.contoso.com": ["127.0.7.2"]})
    url = f"https://exch01.contoso.local:{tls.port}/EWS/Exchange.asmx"
    result = check(
        "--url",
        url,
        "--server-address",
        "127.0.7.2",
        "--ca-file",
        str(root_file),
        "--dns-server",
        dns.nameserver,
    )
    assert result.returncode == 2
    text, _, _rest = split(result.stdout)
    assert text.startswith("EXCHANGE-CERT CRITICAL - 1 of 1 endpoints critical: EXCH01 ews (")
    assert "name_mismatch" in text
    assert "nxdomain" in text  # exch01.contoso.local is not in this DNS
    good = check(
        "--url",
        url.replace("exch01.contoso.local", "mail.contoso.com"),
        "--server-address",
        "127.0.7.2",
        "--ca-file",
        str(root_file),
        "--dns-server",
        dns.nameserver,
    )
    assert good.returncode == 0, good.stdout


def test_unreachable_is_critical(make_dns, write_config, root_file) -> None:
    from tests.peers.dnsmasq import free_port

    dns = make_dns({"mail.contoso.com": ["127.0.7.3"]})
    port = free_port("127.0.7.3")
    config = lab_config(
        [
            {
                "name": "EXCH01",
                "fqdn": "mail.contoso.com",
                "urls": {"ews": f"https://mail.contoso.com:{port}/EWS"},
            }
        ],
        dns,
        [root_file],
    )
    result = check("--config.file", str(write_config(config)))
    assert result.returncode == 2
    assert split(result.stdout)[0] == (
        "EXCHANGE-CERT CRITICAL - 1 of 1 endpoints critical: EXCH01 ews (connection_refused)"
    )


@pytest.fixture
def hung(make_dns, root_file):
    """A server that accepts and never speaks, and the --url arguments that reach it."""
    silent = hostile.TcpPeer("127.0.7.4", hostile.silent)
    dns = make_dns({"mail.contoso.com": ["127.0.7.4"]})
    url = f"https://mail.contoso.com:{silent.port}/EWS/Exchange.asmx"
    yield silent, dns, [
        "--url", url, "--server-address", "127.0.7.4",
        "--ca-file", str(root_file), "--dns-server", dns.nameserver,
    ]  # fmt: skip
    silent.close()


def _timed(*args: str) -> tuple[subprocess.CompletedProcess[str], float]:
    start = time.monotonic()
    result = check(*args)
    return result, time.monotonic() - start


def test_the_plugin_timeout_is_unknown_and_leaves_the_probe_timeout_alone(hung) -> None:
    """-t is the plugin's own timeout: when it ends the run, UNKNOWN (Monitoring
    Plugins: a plugin that cannot finish says UNKNOWN), saying so; the probe's timeout
    (10s for --url, probe.timeout's default) is not cut to fit under it."""
    _, _, url_args = hung
    result, elapsed = _timed(*url_args, "-t", "2")
    assert elapsed < 6, elapsed
    assert result.returncode == 3, result.stdout
    assert result.stdout == (
        "EXCHANGE-CERT UNKNOWN - plugin timeout: the check did not end within -t 2s; "
        "a server that never answers is reported only when -t is longer than "
        "probe.timeout (10s)\n"
    )
    # -t SECONDS:STATE (check_http's and check_tcp's form) and --timeout-result
    # (check_http's and negate's) choose the state.
    result, _ = _timed(*url_args, "-t", "1.5:critical")
    assert result.returncode == 2, result.stdout
    assert result.stdout.startswith("EXCHANGE-CERT CRITICAL - plugin timeout: ")
    result, _ = _timed(*url_args, "-t", "1", "--timeout-result", "1")
    assert result.returncode == 1, result.stdout
    assert result.stdout.startswith("EXCHANGE-CERT WARNING - plugin timeout: ")
    # Control: with -t longer than the probe's 10s, the hung server itself is found,
    # and named, at the probe's own timeout: CRITICAL, not the plugin's UNKNOWN.
    result, elapsed = _timed(*url_args, "-t", "30")
    assert 10 <= elapsed < 25, elapsed
    assert result.returncode == 2, result.stdout
    assert "MAIL ews (timeout)" in result.stdout
    assert "not finished within 10s" in result.stdout


def test_a_config_probe_timeout_longer_than_t_is_kept(hung, write_config, root_file) -> None:
    silent, dns, _ = hung
    config = lab_config(
        [
            {
                "name": "EXCH01",
                "fqdn": "mail.contoso.com",
                "urls": {"ews": f"https://mail.contoso.com:{silent.port}/EWS"},
            }
        ],
        dns,
        [root_file],
    )
    config["probe"] = {"interval": "1m", "timeout": "30s"}
    result, elapsed = _timed("--config.file", str(write_config(config)), "-t", "2")
    assert elapsed < 6, elapsed
    assert result.returncode == 3
    assert result.stdout == (
        "EXCHANGE-CERT UNKNOWN - plugin timeout: the check did not end within -t 2s; "
        "a server that never answers is reported only when -t is longer than "
        "probe.timeout (30s)\n"
    )
    # Control: a probe.timeout well inside -t reports the server, CRITICAL.
    config["probe"] = {"interval": "1m", "timeout": "1s"}
    result, _ = _timed("--config.file", str(write_config(config)), "-t", "10")
    assert result.returncode == 2, result.stdout
    assert split(result.stdout)[0] == (
        "EXCHANGE-CERT CRITICAL - 1 of 1 endpoints critical: EXCH01 ews (timeout)"
    )


def test_bad_config_is_unknown() -> None:
    path = DATA / "invalid-many.yaml"
    result = check("--config.file", str(path))
    assert result.returncode == 3
    assert result.stdout == (
        f"EXCHANGE-CERT UNKNOWN - config error: {path}:4: servers[0].colour: unknown key "
        "(expected one of: addresses, external_urls, fqdn, name, site, tls_certificate_names, "
        "urls, version) "
        "(and 2 more)\n"
    )
    assert result.stderr == ""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "give --config.file or --url (one of them)"),
        (("--config.file", "x", "--url", "https://a.b/"), "give --config.file or --url"),
        (("--url", "https://a.b/", "-w", "soon"), "'soon' is not a range"),
        (("--url", "https://a.b/", "-t", "0"), "--timeout must be more than 0"),
        (("--url", "https://a.b/", "-t", "0:unknown"), "--timeout must be more than 0"),
        (("--url", "https://a.b/", "-t", "soon"), "-t 'soon' is not SECONDS[:STATE]"),
        (("--url", "https://a.b/", "-t", "5:maybe"), "-t '5:maybe' is not SECONDS[:STATE]"),
        (("--url", "https://a.b/", "--timeout-result", "4"), "--timeout-result '4' is not"),
        (("--url", "https://a.b/", "-t", "5:ok", "--timeout-result", "2"), "not both"),
        (("--url", "ftp://a.b/"), "--url 'ftp://a.b/': scheme 'ftp' is not http or https"),
        (("--url", "notaurl"), "--url 'notaurl' is not a URL: give https://host/path"),
        (("--url", "https://a.b/", "--server-address", "a.b.c"), "is not an IP address"),
        (("--url", "https://a.b/", "--component", "nope"), "invalid choice: 'nope'"),
    ],
)
def test_bad_arguments_are_unknown(args, message) -> None:
    result = check(*args)
    assert result.returncode == 3, result.stdout
    assert result.stdout.startswith("EXCHANGE-CERT UNKNOWN - bad arguments: ")
    assert message in result.stdout
    assert result.stdout.count("\n") == 1


def test_a_filter_that_matches_nothing_says_so(
    make_tls, make_dns, write_config, root_file, issuing_ca: CA
) -> None:
    path, _, _ = one_endpoint(
        make_tls, make_dns, write_config, root_file, issuing_ca.issue("mail.contoso.com")
    )
    result = check("--config.file", str(path), "--server", "NOPE")
    assert result.returncode == 3
    assert result.stdout == (
        "EXCHANGE-CERT UNKNOWN - --server NOPE matched no endpoint "
        "(servers known: EXCH01; components known: ews)\n"
    )
    # Control: a filter that matches checks that endpoint.
    assert check("--config.file", str(path), "--server", "exch01").returncode == 0


def test_nothing_discovered_is_unknown(tmp_path, password_file) -> None:
    from tests.peers.dnsmasq import free_port

    root = CA().write(tmp_path / "root.pem")
    config = tmp_path / "ldap.yaml"
    config.write_text(f"""
ldap: {{url: "ldaps://127.0.0.1:{free_port()}", bind_dn: "CN=x",
        bind_password_file: "{password_file}", timeout: 1s}}
trust: {{ca_files: ["{root}"], system: false}}
""")
    result = check("--config.file", str(config))
    assert result.returncode == 3
    assert result.stdout.startswith("EXCHANGE-CERT UNKNOWN - no endpoints to check (ldaps://")
    assert "password" not in result.stdout.lower() or "canary" not in result.stdout


def test_a_bad_ca_file_names_the_flag() -> None:
    """The config is made from the flags: the error names --ca-file, not the key."""
    result = run_exporter(
        "check",
        "--url",
        "https://mail.contoso.com/EWS/Exchange.asmx",
        "--server-address",
        "127.0.0.1",
        "--ca-file",
        "/nonexistent/root.pem",
        "--ca-file",
        "/etc/hostname",
    )
    assert result.returncode == 3
    assert result.stdout == (
        "EXCHANGE-CERT UNKNOWN - bad arguments: --ca-file: cannot read /nonexistent/root.pem: "
        "No such file or directory; --ca-file: /etc/hostname holds no PEM certificate\n"
    )


def test_a_certificate_only_browsers_refuse_is_critical(
    make_tls, make_dns, root_file, issuing_ca: CA
) -> None:
    """OWA with the name only in the CN: Outlook's checks pass, Edge, Chrome and
    iPhones refuse it; the check says client_rejects and who refuses it."""
    tls = make_tls("127.0.7.9", issuing_ca.issue(cn="mail.contoso.com", san=False))
    dns = make_dns({"mail.contoso.com": ["127.0.7.9"]})
    args = [
        "--url", f"https://mail.contoso.com:{tls.port}/owa", "--server-address", "127.0.7.9",
        "--ca-file", str(root_file), "--dns-server", dns.nameserver,
    ]  # fmt: skip
    result = check(*args)
    assert result.returncode == 2, result.stdout
    text, _, rest = split(result.stdout)
    assert text == "EXCHANGE-CERT CRITICAL - 1 of 1 endpoints critical: MAIL owa (client_rejects)"
    assert any(
        line.startswith("  clients: iPhones, iPads and Macs (apple) and Edge and Chrome")
        for line in rest
    ), rest
    # Control: the name in the SAN.
    good_tls = make_tls("127.0.7.10", issuing_ca.issue("mail.contoso.com"))
    good_dns = make_dns({"mail.contoso.com": ["127.0.7.10"]})
    good = check(
        "--url", f"https://mail.contoso.com:{good_tls.port}/owa", "--server-address",
        "127.0.7.10", "--ca-file", str(root_file), "--dns-server", good_dns.nameserver,
    )  # fmt: skip
    assert good.returncode == 0, good.stdout
