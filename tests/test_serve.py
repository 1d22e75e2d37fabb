"""`serve` as users run it: a subprocess against real TLS servers and dnsmasq,
scraped over HTTP; promtool checks the exposition."""

from __future__ import annotations

import json
import re
import shutil
import signal
import ssl
import subprocess
import threading
import time
from pathlib import Path

import bcrypt
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import lab_config, run_exporter
from tests.peers import hostile
from tests.pki import CA

PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return out


def value(metrics, name: str, **labels: str) -> float | None:
    return metrics.get((name, frozenset(labels.items())))


def series(metrics, name: str) -> list[dict[str, str]]:
    return [dict(labels) for (n, labels) in metrics if n == name]


def test_metrics_per_endpoint_and_promtool(kb_lab, start_exporter) -> None:
    path, port, _ = kb_lab
    exporter = start_exporter(path)
    code, body, headers = exporter.get("/metrics")
    assert code == 200
    assert headers["Content-Type"].startswith("text/plain; version=0.0.4")
    m = samples(body)
    ews = {"server": "EXCH01", "component": "ews"}
    good = {"server": "EXCH02", "component": "ews"}
    assert value(m, "exchange_internal_url_cert_match", **ews) == 0
    assert value(m, "exchange_internal_url_cert_match", **good) == 1
    for name in (
        "exchange_internal_url_cert_issuer_trusted",
        "exchange_internal_url_cert_date_valid",
        "exchange_internal_url_dns_match",
        "exchange_internal_url_probe_success",
    ):
        assert value(m, name, **ews) == 1, name
        assert value(m, name, **good) == 1, name
    assert value(m, "exchange_internal_url_status", **ews) == 2
    assert value(m, "exchange_internal_url_status", **good) == 0
    assert value(m, "exchange_internal_url_probe_duration_seconds", **ews) > 0
    not_after = value(m, "exchange_internal_url_cert_not_after_timestamp_seconds", **ews)
    assert not_after > time.time() + 300 * 86400
    assert value(m, "exchange_internal_url_chain_not_after_timestamp_seconds", **ews) <= not_after
    assert (
        value(
            m,
            "exchange_internal_url_info",
            **ews,
            url=f"https://exch01.contoso.local:{port}/EWS/Exchange.asmx",
            host="exch01.contoso.local",
            suggested_url=f"https://mail.contoso.com:{port}/EWS/Exchange.asmx",
            version="2016",
            site="",
        )
        == 1
    )
    assert (
        value(
            m,
            "exchange_internal_url_problem_info",
            **ews,
            check="name_match",
            reason="name_mismatch",
        )
        == 1
    )
    (cert,) = [
        s
        for s in series(m, "exchange_certificate_info")
        if s["server"] == "EXCH01" and s["component"] == "ews"
    ]
    assert cert["subject"] == "CN=mail.contoso.com,O=Contoso Test"
    assert len(cert["fingerprint_sha256"]) == 64
    assert re.fullmatch(r"[0-9A-F]{40}", cert["thumbprint"])
    assert cert["not_after"].endswith("Z")
    # One series per distinct certificate, by these labels: EXCH01's three URLs share
    # one certificate, EXCH02 has its own.
    distinct = {
        (s["thumbprint"], s["subject"], s["issuer"], s["not_after"])
        for s in series(m, "exchange_certificate_info")
    }
    assert len(distinct) == 2
    assert value(m, "exchange_discovery_success", source="static") == 1
    assert value(m, "exchange_exporter_config_last_reload_successful") == 1
    assert value(m, "exchange_exporter_last_refresh_timestamp_seconds") <= time.time()
    assert value(m, "exchange_exporter_refresh_duration_seconds") >= 0
    assert value(m, "exchange_exporter_build_info", version="0.1.0") == 1
    assert "From the last background refresh" in body
    lint = subprocess.run(
        [PROMTOOL, "check", "metrics"], input=body, capture_output=True, text=True, check=False
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr
    assert lint.stdout.strip() == ""
    assert lint.stderr.strip() == ""


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, False),
        ("", False),
        ("identity", False),
        ("gzip", True),
        ("GZIP", True),
        ("deflate, gzip;q=1.0, *;q=0.5", True),
        ("gzip;q=0", False),
        ("gzip; q=0.000", False),
        ("br, x-gzip", True),
        ("*", True),
        ("gzip;q=banana", False),
        ("*;q=0, gzip", True),  # named beats the wildcard
        ("gzip;q=0, *", False),
        ("identity, *;q=0", False),
        ("gzipped", False),
    ],
)
def test_accept_encoding(header, expected) -> None:
    from exporter.service.http import accepts_gzip

    assert accepts_gzip(header) is expected


def test_metrics_gzipped_for_prometheus(kb_lab, start_exporter) -> None:
    """Prometheus sends Accept-Encoding: gzip: two gzip members, read as one stream,
    with the same series as the plain text (promtool reads them too)."""
    import gzip
    import http.client

    path, _, _ = kb_lab
    exporter = start_exporter(path)

    def scrape(encoding: str | None) -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection(exporter.address, exporter.port, timeout=10)
        conn.putrequest("GET", "/metrics", skip_accept_encoding=True)
        if encoding is not None:
            conn.putheader("Accept-Encoding", encoding)
        conn.endheaders()
        response = conn.getresponse()
        body = response.read()
        conn.close()
        return response.status, dict(response.getheaders()), body

    code, headers, body = scrape("gzip")
    assert code == 200
    assert headers["Content-Encoding"] == "gzip"
    assert headers["Vary"] == "Accept-Encoding"
    assert int(headers["Content-Length"]) == len(body)
    text = gzip.decompress(body).decode()
    plain_code, plain_headers, plain = scrape(None)
    assert plain_code == 200
    assert "Content-Encoding" not in plain_headers
    endpoint_series = {k for k in samples(plain.decode()) if k[0].startswith("exchange_internal")}
    assert endpoint_series
    assert endpoint_series == {k for k in samples(text) if k[0].startswith("exchange_internal")}
    assert "# TYPE exchange_exporter_build_info gauge" in text  # the scrape's own part
    lint = subprocess.run(
        [PROMTOOL, "check", "metrics"], input=text, capture_output=True, text=True, check=False
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr
    _, refused, _ = scrape("gzip;q=0")
    assert "Content-Encoding" not in refused


def test_keep_alive_scrapes_do_not_wait_for_delayed_acks(kb_lab, start_exporter) -> None:
    """Regression: headers and two small gzip parts as separate writes met Nagle's
    algorithm and the client's delayed ACK, 40 ms per scrape (TCP_NODELAY fixes it)."""
    import http.client

    path, _, _ = kb_lab
    exporter = start_exporter(path)
    conn = http.client.HTTPConnection(exporter.address, exporter.port, timeout=10)
    start = time.monotonic()
    for _ in range(10):
        conn.request("GET", "/metrics", headers={"Accept-Encoding": "gzip"})
        response = conn.getresponse()
        assert response.status == 200
        assert response.read()
    elapsed = time.monotonic() - start
    conn.close()
    assert elapsed < 0.3, f"10 scrapes took {elapsed:.2f}s: a delayed-ACK stall each"


def test_certificate_series_absent_without_handshake(
    make_dns, write_config, root_file, start_exporter
) -> None:
    from tests.peers.dnsmasq import free_port

    dns = make_dns({"exch01.contoso.local": ["127.0.3.9"]})
    port = free_port("127.0.3.9")
    config = lab_config(
        [
            {
                "name": "EXCH01",
                "fqdn": "exch01.contoso.local",
                "urls": {
                    "ews": f"https://exch01.contoso.local:{port}/EWS",
                    "oab": f"http://exch01.contoso.local:{port}/OAB",
                },
            }
        ],
        dns,
        [root_file],
    )
    exporter = start_exporter(write_config(config))
    m = samples(exporter.get("/metrics")[1])
    ews = {"server": "EXCH01", "component": "ews"}
    assert value(m, "exchange_internal_url_probe_success", **ews) == 0
    assert (
        value(
            m,
            "exchange_internal_url_problem_info",
            **ews,
            check="probe_ok",
            reason="connection_refused",
        )
        == 1
    )
    for name in (
        "exchange_internal_url_cert_match",
        "exchange_internal_url_cert_issuer_trusted",
        "exchange_internal_url_cert_date_valid",
        "exchange_internal_url_cert_not_after_timestamp_seconds",
        "exchange_certificate_info",
    ):
        assert not series(m, name), name
    # Plain http: not probed, so no probe_success; its reason says why.
    oab = {"server": "EXCH01", "component": "oab"}
    assert value(m, "exchange_internal_url_probe_success", **oab) is None
    assert (
        value(m, "exchange_internal_url_problem_info", **oab, check="probe_ok", reason="plain_http")
        == 1
    )
    assert value(m, "exchange_internal_url_status", **oab) == 1


def test_reload_valid_invalid_and_vanished_series(kb_lab, start_exporter) -> None:
    path, _, data = kb_lab
    exporter = start_exporter(path)
    assert series(samples(exporter.get("/metrics")[1]), "exchange_internal_url_status")
    # Invalid: the old config stays, the failure is visible.
    path.write_text("servers: [oops\n")
    code, body, _ = exporter.get("/-/reload", method="POST")
    assert code == 500
    assert "not valid YAML" in body
    m = samples(exporter.get("/metrics")[1])
    assert value(m, "exchange_exporter_config_last_reload_successful") == 0
    assert len(series(m, "exchange_internal_url_status")) == 4
    # Valid, with EXCH02 removed (via SIGHUP): its series disappear after the refresh.
    data["servers"] = data["servers"][:1]
    path.write_text(yaml.safe_dump(data))
    exporter.process.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        m = samples(exporter.get("/metrics")[1])
        if len(series(m, "exchange_internal_url_status")) == 3:
            break
        time.sleep(0.1)
    assert {s["server"] for s in series(m, "exchange_internal_url_status")} == {"EXCH01"}
    assert not [s for s in series(m, "exchange_certificate_info") if s["server"] == "EXCH02"]
    assert value(m, "exchange_exporter_config_last_reload_successful") == 1
    assert exporter.get("/-/reload")[0] == 405


def test_sigterm_stops_cleanly(kb_lab, start_exporter) -> None:
    path, _, _ = kb_lab
    exporter = start_exporter(path)
    start = time.monotonic()
    assert exporter.terminate(timeout=5) == 0
    assert time.monotonic() - start < 5
    assert "msg=stopped" in exporter.logs()


def test_status_api_health_and_404(kb_lab, start_exporter) -> None:
    path, _port, _ = kb_lab
    exporter = start_exporter(path)
    code, body, headers = exporter.get("/api/v1/status")
    assert code == 200
    assert headers["Content-Type"] == "application/json"
    data = json.loads(body)
    assert data["status"] == "critical"
    assert len(data["endpoints"]) == 4
    assert exporter.get("/-/healthy")[:2] == (200, "Healthy\n")
    assert exporter.get("/nope")[0] == 404


def test_basic_auth(kb_lab, start_exporter, tmp_path: Path) -> None:
    path, _, _ = kb_lab
    hashed = bcrypt.hashpw(b"s3cret-canary", bcrypt.gensalt(rounds=4)).decode()
    web = tmp_path / "web.yml"
    web.write_text(yaml.safe_dump({"basic_auth_users": {"prometheus": hashed}}))
    exporter = start_exporter(
        path, "--web.config.file", str(web), auth=("prometheus", "s3cret-canary")
    )
    # /-/healthy says only that the process runs: the container's health check
    # reads it without credentials (README, "Docker and systemd").
    assert exporter.get("/-/healthy")[:2] == (200, "Healthy\n")
    for endpoint in ("/", "/metrics", "/api/v1/status", "/-/ready"):
        code, _, headers = exporter.get(endpoint)
        assert code == 401, endpoint
        assert headers["WWW-Authenticate"].startswith("Basic")
        assert exporter.get(endpoint, auth=("prometheus", "wrong"))[0] == 401
        assert exporter.get(endpoint, auth=("nobody", "s3cret-canary"))[0] == 401
        assert exporter.get(endpoint, auth=("prometheus", "s3cret-canary"))[0] == 200
    assert "s3cret-canary" not in exporter.logs()


def test_tls_on_the_web_endpoint(
    kb_lab, start_exporter, tmp_path: Path, issuing_ca: CA, root_file: Path
) -> None:
    path, _, _ = kb_lab
    cert, key = issuing_ca.issue("localhost", ips=("127.0.0.1",)).write(tmp_path, "web")
    web = tmp_path / "web.yml"
    web.write_text(
        yaml.safe_dump({"tls_server_config": {"cert_file": str(cert), "key_file": str(key)}})
    )
    exporter = start_exporter(path, "--web.config.file", str(web), ready=False)
    context = ssl.create_default_context(cafile=str(root_file))
    base = exporter.base.replace("http://", "https://")
    exporter.wait_ready(context=context, base=base)
    assert exporter.get("/metrics", context=context, base=base)[0] == 200
    # Control: plain http to the TLS port gets no answer.
    with pytest.raises(Exception):  # noqa: B017, PT011 - any failure is right here
        exporter.get("/metrics", timeout=3)


def test_bad_web_config_is_one_line(kb_lab, tmp_path: Path) -> None:
    path, _, _ = kb_lab
    web = tmp_path / "web.yml"
    web.write_text("basic_auth_users:\n  alice: plaintext\n")
    result = run_exporter("serve", "--config.file", str(path), "--web.config.file", str(web))
    assert result.returncode == 2
    assert result.stderr == (
        f"exchange-cert-exporter: config error: {web}:2: "
        "basic_auth_users.alice: must be a bcrypt hash ($2y$...), "
        "not a password\n"
    )


def test_scrape_during_refresh_returns_previous_snapshot_fast(
    make_tls, make_dns, write_config, root_file, issuing_ca: CA, start_exporter
) -> None:
    silent = hostile.TcpPeer("127.0.3.5", hostile.silent)
    try:
        good = make_tls("127.0.3.6", issuing_ca.issue("mail.contoso.com"))
        dns = make_dns({"mail.contoso.com": ["127.0.3.6"], "slow.contoso.local": ["127.0.3.5"]})
        config = lab_config(
            [
                {
                    "name": "SLOW",
                    "fqdn": "slow.contoso.local",
                    "urls": {"ews": f"https://slow.contoso.local:{silent.port}/EWS"},
                },
                {
                    "name": "EXCH01",
                    "fqdn": "mail.contoso.com",
                    "urls": {"ews": f"https://mail.contoso.com:{good.port}/EWS"},
                },
            ],
            dns,
            [root_file],
        )
        config["probe"] = {"interval": "4s", "timeout": "3s", "concurrency": 2}
        exporter = start_exporter(write_config(config), timeout=30)
        first = samples(exporter.get("/metrics")[1])
        refreshed = value(first, "exchange_exporter_last_refresh_timestamp_seconds")
        worst = 0.0
        seen_new = False
        deadline = time.monotonic() + 12
        while time.monotonic() < deadline:  # spans at least one refresh in progress
            start = time.monotonic()
            m = samples(exporter.get("/metrics")[1])
            worst = max(worst, time.monotonic() - start)
            assert len(series(m, "exchange_internal_url_status")) == 2
            assert (
                value(m, "exchange_internal_url_cert_match", server="EXCH01", component="ews") == 1
            )
            if value(m, "exchange_exporter_last_refresh_timestamp_seconds") != refreshed:
                seen_new = True
            time.sleep(0.05)
        assert seen_new
        assert worst < 1.0
    finally:
        silent.close()


def test_hostile_certificate_text_is_escaped_on_the_page(
    make_tls, make_dns, write_config, root_file, start_exporter
) -> None:
    evil_ca = CA('<script>alert("ca")</script>')
    tls = make_tls(
        "127.0.3.7", evil_ca.issue("mail.contoso.com", cn="<img src=x onerror=alert(1)>")
    )
    dns = make_dns({"mail.contoso.com": ["127.0.3.7"]})
    config = lab_config(
        [
            {
                "name": "EXCH01",
                "fqdn": "mail.contoso.com",
                "urls": {"ews": f"https://mail.contoso.com:{tls.port}/EWS"},
            }
        ],
        dns,
        [root_file],
    )
    exporter = start_exporter(write_config(config))
    code, page, headers = exporter.get("/")
    assert code == 200
    assert "<script>alert" not in page
    assert "<img src=x" not in page
    # RFC 4514 backslash-escapes < and >; HTML escaping comes on top.
    assert "issued by CN=\\&lt;script\\&gt;alert(" in page
    assert "Certificate: CN=\\&lt;img src=x onerror=alert(1)\\&gt;" in page
    assert "default-src 'none'" in headers["Content-Security-Policy"]


def test_concurrent_scrapes_during_reloads_never_fail(kb_lab, start_exporter) -> None:
    path, _, _ = kb_lab
    exporter = start_exporter(path)
    errors: list[str] = []

    def hammer() -> None:
        for _ in range(40):
            for endpoint in ("/metrics", "/", "/api/v1/status"):
                code, body, _ = exporter.get(endpoint)
                if code != 200 or not body:
                    errors.append(f"{endpoint} {code}")

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for t in threads:
        t.start()
    for _ in range(5):
        assert exporter.get("/-/reload", method="POST")[0] == 200
        time.sleep(0.1)
    for t in threads:
        t.join(60)
    assert errors == []


def test_json_logs_one_line_per_refresh(kb_lab, start_exporter) -> None:
    path, _, _ = kb_lab
    exporter = start_exporter(path, "--log.format", "json", "--log.level", "debug")
    exporter.terminate()
    events = [json.loads(line) for line in exporter.logs().splitlines()]
    refresh = [e for e in events if e["msg"] == "refresh complete"]
    assert refresh
    assert refresh[0]["level"] == "info"
    assert refresh[0]["endpoints"] == 4
    assert refresh[0]["critical"] == 3
    assert refresh[0]["ok"] == 1
    assert "duration_seconds" in refresh[0]
    problems = [e for e in events if e["msg"] == "endpoint problem"]
    assert {(e["server"], e["component"]) for e in problems} == {
        ("EXCH01", "autodiscover"),
        ("EXCH01", "ews"),
        ("EXCH01", "oab"),
    }
    assert all(e["level"] == "debug" and e["ts"].endswith("Z") for e in problems)


def test_logfmt_quotes_values(kb_lab, start_exporter) -> None:
    path, _, _ = kb_lab
    exporter = start_exporter(path)
    exporter.terminate()
    line = next(x for x in exporter.logs().splitlines() if "refresh complete" in x)
    assert line.startswith("ts=")
    assert ' level=info msg="refresh complete" endpoints=4 ' in line


def test_a_deprecated_key_is_logged_once_at_start(kb_lab, start_exporter) -> None:
    path, _, _ = kb_lab
    data = yaml.safe_load(Path(path).read_text())
    data["probe"]["processes"] = 2
    Path(path).write_text(yaml.safe_dump(data, sort_keys=False))
    exporter = start_exporter(path, "--log.format", "json")
    exporter.terminate()
    events = [json.loads(line) for line in exporter.logs().splitlines()]
    (notice,) = [e for e in events if e["msg"] == "deprecated config key"]
    assert notice["level"] == "warn"
    assert "probe.processes: is deprecated and ignored" in notice["notice"]
