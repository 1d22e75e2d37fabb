"""`demo`: the README's run command. One process, loopback only, KB 940726 on show."""

from __future__ import annotations

import re
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.conftest import run_exporter
from tests.peers.dnsmasq import free_port
from tests.peers.process import wait_http
from tests.test_serve import samples, value


def test_demo_shows_the_mismatch_and_its_fix_then_stops() -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "exporter", "demo", "--web.listen-address", f"127.0.0.1:{port}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert re.match(rf"Demo running: open http://127\.0\.0\.1:{port}/ ", line), line
        wait_http(f"http://127.0.0.1:{port}/-/ready", proc, "demo")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
            m = samples(r.read().decode())
        ews = {"server": "EXCH01", "component": "ews"}
        assert value(m, "exchange_internal_url_cert_match", **ews) == 0
        (info,) = [
            dict(k)
            for (n, k) in m
            if n == "exchange_internal_url_info"
            and dict(k)["server"] == "EXCH01"
            and dict(k)["component"] == "ews"
        ]
        assert info["suggested_url"].startswith("https://mail.contoso.com:")
        assert value(m, "exchange_internal_url_cert_match", server="EXCH02", component="ews") == 1
        assert value(m, "exchange_internal_url_status", server="EXCH03", component="ews") == 2
        # Beyond the virtual directories: SMTP left on the expired certificate
        # (critical), the Auth certificate 20 days from expiry (warning at 60/14).
        smtp = {"server": "EXCH02", "component": "smtp"}
        assert value(m, "exchange_internal_url_probe_success", **smtp) == 1
        assert value(m, "exchange_internal_url_cert_date_valid", **smtp) == 0
        assert value(m, "exchange_internal_url_status", **smtp) == 2
        auth = {"server": "EXCH02", "component": "auth_certificate"}
        assert value(m, "exchange_internal_url_status", **auth) == 1
        left = value(m, "exchange_internal_url_cert_not_after_timestamp_seconds", **auth)
        assert 19 * 86400 < left - time.time() < 21 * 86400
        # OWA with its name only in the CN: Outlook's checks pass, browsers refuse it.
        owa = {"server": "EXCH02", "component": "owa"}
        assert value(m, "exchange_internal_url_cert_match", **owa) == 1
        assert value(m, "exchange_internal_url_client_accepts", **owa, client="browser") == 0
        assert value(m, "exchange_internal_url_status", **owa) == 2
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as r:
            page = r.read().decode()
        assert (
            "Set-WebServicesVirtualDirectory -Identity 'EXCH01\\EWS (Default Web Site)'".replace(
                "'", "&#x27;"
            )
            in page
        )
        assert "request one every client accepts" in page
        proc.terminate()
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("address", ["0.0.0.0:9940", "10.0.0.1:9940", ":9940"])
def test_demo_refuses_anything_but_loopback(address: str) -> None:
    result = run_exporter("demo", "--web.listen-address", address, timeout=30)
    assert result.returncode == 2
    assert "the demo listens on loopback only" in result.stderr
    assert result.stderr.count("\n") == 1
