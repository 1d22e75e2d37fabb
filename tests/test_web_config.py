"""--web.config.file as exporter-toolkit defines it (issue #17, items 4 and 5): a
node_exporter-style file with every key works against real TLS clients with and
without a client certificate, and the container's health check (the Dockerfile's
own HEALTHCHECK command) passes whatever the file turns on."""

from __future__ import annotations

import importlib
import json
import re
import ssl
import subprocess
import sys
from pathlib import Path

import bcrypt
import pytest
import yaml

from exporter.lab.pki import CLIENT_AUTH
from exporter.service import webconfig
from tests.conftest import run_exporter
from tests.peers.dnsmasq import free_port
from tests.pki import CA

ROOT = Path(__file__).parent.parent
HEADERS = {
    "Strict-Transport-Security": "max-age=31536000",
    "X-Frame-Options": "deny",
    "X-Content-Type-Options": "nosniff",
    "X-XSS-Protection": "1; mode=block",
    "Content-Security-Policy": "default-src 'self'",
}
PASSWORD = "s3cret-canary"


def healthcheck_command() -> list[str]:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    match = re.search(r"HEALTHCHECK .*?CMD (\[.*\])", text)
    assert match is not None
    command: list[str] = json.loads(match.group(1))
    assert command[0] == "exchange-cert-exporter"
    return [sys.executable, "-m", "exporter", *command[1:]]


def run_healthcheck(port: int) -> subprocess.CompletedProcess[str]:
    command = healthcheck_command()
    command[command.index("127.0.0.1:9940")] = f"127.0.0.1:{port}"
    return subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)


@pytest.fixture
def web_files(tmp_path: Path, issuing_ca: CA) -> dict[str, Path]:
    """The web server's certificate, and a client certificate from another CA."""
    web = tmp_path / "web"
    web.mkdir()
    cert, key = issuing_ca.issue("localhost", ips=("127.0.0.1",)).write(web, "server")
    clients = CA("Prometheus Clients CA")
    client_cert, client_key = clients.issue("prometheus", eku=[CLIENT_AUTH]).write(
        tmp_path, "client"
    )
    return {
        "dir": web,
        "cert": cert,
        "key": key,
        "clients_ca": clients.write(web / "clients-ca.pem"),
        "client_cert": client_cert,
        "client_key": client_key,
        "stranger": CA("Stranger CA")
        .issue("prometheus", eku=[CLIENT_AUTH])
        .write(tmp_path, "stranger")[0],
        "stranger_key": tmp_path / "stranger.key",
    }


def full_web_config(files: dict[str, Path], **tls: object) -> dict[str, object]:
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    section = {
        "cert_file": "server.pem",  # relative: to the web config's own directory
        "key_file": "server.key",
        "client_auth_type": "RequireAndVerifyClientCert",
        "client_ca_file": "clients-ca.pem",
        "min_version": "TLS12",
        "max_version": "TLS13",
        "cipher_suites": ["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"],
        "prefer_server_cipher_suites": True,
        **tls,
    }
    return {
        "tls_server_config": section,
        "http_server_config": {"http2": True, "headers": HEADERS},
        "basic_auth_users": {"prometheus": hashed},
    }


def client_context(root: Path, cert: Path | None, key: Path | None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(root))
    if cert is not None and key is not None:
        context.load_cert_chain(str(cert), str(key))
    return context


def test_a_node_exporter_web_config_with_every_key(
    kb_lab, start_exporter, web_files, root_file: Path
) -> None:
    path, _, _ = kb_lab
    web = web_files["dir"] / "web.yml"
    web.write_text(yaml.safe_dump(full_web_config(web_files, max_version="TLS12")))
    exporter = start_exporter(path, "--web.config.file", str(web), ready=False)
    base = exporter.base.replace("http://", "https://")
    good = client_context(root_file, web_files["client_cert"], web_files["client_key"])
    auth = ("prometheus", PASSWORD)
    exporter.wait_ready(context=good, base=base, auth=auth)
    for endpoint in ("/", "/metrics", "/api/v1/status", "/-/healthy", "/nope"):
        code, _, headers = exporter.get(endpoint, context=good, base=base, auth=auth)
        assert code == (404 if endpoint == "/nope" else 200), endpoint
        for name, value in HEADERS.items():
            assert headers[name] == value, (endpoint, name)
    # Negative controls: no client certificate, or one from a CA not configured.
    for cert in (None, web_files["stranger"]):
        bad = client_context(root_file, cert, web_files["stranger_key"] if cert else None)
        with pytest.raises(OSError, match=r"(?i)certificate|alert|reset|EOF"):
            exporter.get("/metrics", context=bad, base=base, auth=auth, timeout=5)
    # Basic auth still applies over mutual TLS.
    assert exporter.get("/metrics", context=good, base=base)[0] == 401
    # max_version TLS12 and the one configured suite are what is negotiated.
    with good.wrap_socket(
        __import__("socket").create_connection(("127.0.0.1", exporter.port), timeout=5),
        server_hostname="localhost",
    ) as tls:
        assert tls.version() == "TLSv1.2"
        assert tls.cipher()[0] == "ECDHE-ECDSA-AES128-GCM-SHA256"
    only13 = client_context(root_file, web_files["client_cert"], web_files["client_key"])
    only13.minimum_version = ssl.TLSVersion.TLSv1_3
    with pytest.raises(OSError, match=r"(?i)version|alert"):
        exporter.get("/metrics", context=only13, base=base, auth=auth, timeout=5)


@pytest.mark.parametrize("mode", ["plain", "basic_auth", "tls", "mutual_tls"])
def test_the_container_health_check_passes_with_security_on(
    kb_lab, start_exporter, web_files, root_file: Path, mode: str
) -> None:
    path, _, _ = kb_lab
    full = full_web_config(web_files)
    web_config = {
        "plain": {},
        "basic_auth": {"basic_auth_users": full["basic_auth_users"]},
        "tls": {"tls_server_config": {"cert_file": "server.pem", "key_file": "server.key"}},
        "mutual_tls": full,
    }[mode]
    web = web_files["dir"] / "web.yml"
    web.write_text(yaml.safe_dump(web_config))
    exporter = start_exporter(path, "--web.config.file", str(web), ready=False)
    result = None
    for _ in range(100):
        result = run_healthcheck(exporter.port)
        if result.returncode == 0:
            break
    assert result is not None
    assert result.returncode == 0, result.stdout + result.stderr
    assert "healthy" in result.stdout


def test_the_health_check_fails_when_nothing_answers() -> None:
    result = run_healthcheck(free_port())
    assert result.returncode == 1
    assert result.stdout.startswith("exchange-cert-exporter: unhealthy: http: ")


@pytest.mark.parametrize(
    ("tls", "message"),
    [
        ({"client_auth_type": "RequestClientCert"}, "without verifying it and is not supported"),
        ({"client_ca_file": None}, "client_ca_file: is required for client_auth_type"),
        ({"min_version": "TLS14"}, "min_version: 'TLS14' is not one of: TLS10, TLS11"),
        ({"min_version": "TLS13", "max_version": "TLS12"}, "TLS13 is above max_version TLS12"),
        ({"cipher_suites": ["RC4"]}, "cipher_suites[0]: 'RC4' is not one of Go's secure suites"),
        ({"curve_preferences": ["X25519"]}, "curve_preferences: is not supported by this"),
        ({"cert_file": "missing.pem"}, "cert_file: missing.pem is not a readable file"),
        ({"colour": "blue"}, "colour: unknown key"),
    ],
)
def test_web_config_problems_are_one_line_each(kb_lab, web_files, tls, message) -> None:
    path, _, _ = kb_lab
    data = full_web_config(web_files)
    section = data["tls_server_config"]
    assert isinstance(section, dict)
    for key, value in tls.items():
        if value is None:
            section.pop(key)
        else:
            section[key] = value
    web = web_files["dir"] / "web.yml"
    web.write_text(yaml.safe_dump(data))
    result = run_exporter("serve", "--config.file", str(path), "--web.config.file", str(web))
    assert result.returncode == 2
    assert message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert all(
        line.startswith("exchange-cert-exporter: config error: ")
        for line in result.stderr.splitlines()
    )


def test_the_dummy_hash_is_a_constant_not_made_at_import() -> None:
    before = webconfig._DUMMY_HASH
    assert before == importlib.reload(webconfig)._DUMMY_HASH
    assert bcrypt.checkpw(b"anything", before) is False  # a real cost-10 hash
    assert before.startswith(b"$2b$10$")
    auth = webconfig.BasicAuth({"alice": bcrypt.hashpw(b"pw", bcrypt.gensalt(rounds=4))})
    import base64

    header = "Basic " + base64.b64encode(b"mallory:pw").decode()
    assert auth.check(header) is False  # an unknown user is checked, and refused
