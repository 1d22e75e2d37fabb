"""Fixtures that start real peers on loopback and stop them after the test."""

from __future__ import annotations

import contextlib
import datetime as dt
import ssl
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from exporter.config import Config, load_config
from exporter.lab.tls_server import TlsServer
from exporter.pipeline import Snapshot, World, run_cycle
from tests.peers.dnsmasq import Dnsmasq
from tests.pki import CA, Issued


@pytest.fixture(scope="session")
def root_ca() -> CA:
    return CA("Contoso Root CA")


@pytest.fixture(scope="session")
def issuing_ca(root_ca: CA) -> CA:
    return CA("Contoso Issuing CA", parent=root_ca)


@pytest.fixture
def root_file(tmp_path: Path, root_ca: CA) -> Path:
    return root_ca.write(tmp_path / "root.pem")


@pytest.fixture
def make_dns() -> Iterator[Callable[..., Dnsmasq]]:
    started: list[Dnsmasq] = []

    def make(records: dict[str, list[str]], **kwargs: Any) -> Dnsmasq:
        server = Dnsmasq(records, **kwargs)
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture
def make_tls(tmp_path: Path) -> Iterator[Callable[..., TlsServer]]:
    started: list[TlsServer] = []
    counter = iter(range(10_000))

    def make(
        address: str,
        issued: Issued,
        *,
        send: list[Any] | None = None,
        by_sni: dict[str, Issued] | None = None,
        tweak: Callable[[ssl.SSLContext], None] | None = None,
        port: int = 0,
    ) -> TlsServer:
        n = next(counter)
        default = issued.write(tmp_path, f"tls{n}", send)
        sni_files = {
            name: cert.write(tmp_path, f"tls{n}-{i}")
            for i, (name, cert) in enumerate((by_sni or {}).items())
        }
        server = TlsServer(address, default, sni_files, port=port, tweak=tweak)
        started.append(server)
        return server

    yield make
    for server in started:
        server.close()


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[[dict[str, Any]], Path]:
    def write(data: dict[str, Any]) -> Path:
        path = tmp_path / "config.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        return path

    return write


class Judged:
    """An EndpointReport plus the TLS server that produced it (for SNI assertions)."""

    def __init__(self, report: Any, tls_server: TlsServer) -> None:
        self.report = report
        self.tls_server = tls_server

    def __getattr__(self, name: str) -> Any:
        return getattr(self.report, name)


def lab_config(
    servers: list[dict[str, Any]], dns: Dnsmasq, ca_files: list[Path], **extra: Any
) -> dict[str, Any]:
    """A config for loopback labs: internal DNS = dnsmasq, trust = the test CA only."""
    data: dict[str, Any] = {
        "servers": servers,
        "trust": {"ca_files": [str(p) for p in ca_files], "system": False},
        "dns": {"nameservers": [dns.nameserver], "timeout": "2s"},
        "probe": {"interval": "1m", "timeout": "3s", "concurrency": 8},
    }
    data.update(extra)
    return data


def run_exporter(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """The CLI as a user runs it: ``python -m exporter ARGS``, output captured."""
    return subprocess.run(
        [sys.executable, "-m", "exporter", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def run(config_path: Path, now: dt.datetime | None = None) -> Snapshot:
    config: Config = load_config(str(config_path))
    world = World(now=lambda: now) if now else World()
    return run_cycle(config, world)


@pytest.fixture
def judge(make_dns, make_tls, write_config, root_file) -> Callable[..., Any]:
    """One endpoint, its own TLS server on 127.0.1.x, dnsmasq as internal DNS: the verdict."""

    def judge(
        issued: Issued,
        *,
        host: str = "mail.contoso.com",
        records: dict[str, list[str]] | None = None,
        address: str = "127.0.1.1",
        component: str = "ews",
        path: str = "/EWS/Exchange.asmx",
        send: list[Any] | None = None,
        by_sni: dict[str, Issued] | None = None,
        ca_files: list[Path] | None = None,
        server: dict[str, Any] | None = None,
        now: dt.datetime | None = None,
        thresholds: dict[str, str] | None = None,
        tweak: Callable[[ssl.SSLContext], None] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> Any:
        tls = make_tls(address, issued, send=send, by_sni=by_sni, tweak=tweak)
        dns = make_dns(
            records if records is not None else {host: [address], "exch01.contoso.local": [address]}
        )
        entry = {
            "name": "EXCH01",
            "fqdn": "exch01.contoso.local",
            "urls": {component: f"https://{host}:{tls.port}{path}"},
        }
        entry.update(server or {})
        sections = dict(extra or {})
        if thresholds:
            sections["thresholds"] = thresholds
        config = lab_config([entry], dns, ca_files or [root_file], **sections)
        (report,) = run(write_config(config), now).endpoints
        return Judged(report, tls)

    return judge


@pytest.fixture
def start_exporter(tmp_path: Path) -> Iterator[Callable[..., Any]]:
    from tests.peers.exporter_proc import ExporterProcess

    started: list[ExporterProcess] = []

    def start(config: Path, *args: str, ready: bool = True, **kwargs: Any) -> ExporterProcess:
        proc = ExporterProcess(config, *args, log_file=tmp_path / f"exporter{len(started)}.log")
        started.append(proc)
        if ready:
            proc.wait_ready(**kwargs)
        return proc

    yield start
    for proc in started:
        with contextlib.suppress(Exception):  # best effort: the test already has its verdict
            proc.terminate()


@pytest.fixture
def kb_lab(make_tls, make_dns, write_config, root_file, issuing_ca: CA) -> Any:
    """EXCH01 shows KB 940726 (internal URLs on its own name, certificate for mail);
    EXCH02 is healthy. Returns (config path, EXCH01's port, config dict)."""
    mail = make_tls("127.0.3.1", issuing_ca.issue("mail.contoso.com", "autodiscover.contoso.com"))
    good = make_tls("127.0.3.2", issuing_ca.issue("exch02.contoso.local"))
    dns = make_dns(
        {
            "exch01.contoso.local": ["127.0.3.1"],
            "mail.contoso.com": ["127.0.3.1"],
            "exch02.contoso.local": ["127.0.3.2"],
        }
    )
    p1, p2 = mail.port, good.port
    servers = [
        {
            "name": "EXCH01",
            "fqdn": "exch01.contoso.local",
            "version": "2016",
            "urls": {
                "autodiscover": f"https://exch01.contoso.local:{p1}/Autodiscover/Autodiscover.xml",
                "ews": f"https://exch01.contoso.local:{p1}/EWS/Exchange.asmx",
                "oab": f"https://exch01.contoso.local:{p1}/OAB",
            },
        },
        {
            "name": "EXCH02",
            "fqdn": "exch02.contoso.local",
            "urls": {"ews": f"https://exch02.contoso.local:{p2}/EWS/Exchange.asmx"},
        },
    ]
    data = lab_config(servers, dns, [root_file])
    return write_config(data), p1, data


LDAP_PASSWORD = "canary-Pa55w0rd-7f3e"  # a canary: it must never appear in any output


@pytest.fixture
def ldap_tls_files(tmp_path: Path, issuing_ca: CA, root_ca: CA) -> dict[str, Path]:
    issued = issuing_ca.issue("dc01.contoso.local", ips=("127.0.0.1",))
    cert, key = issued.write(tmp_path, "dc01")
    return {"cert": cert, "key": key, "ca": root_ca.write(tmp_path / "ldap-ca.pem")}


@pytest.fixture
def make_slapd(tmp_path: Path, ldap_tls_files: dict[str, Path]) -> Iterator[Callable[..., Any]]:
    from tests.peers.slapd import Slapd

    started: list[Any] = []

    def make(objs: list[Any]) -> Any:
        server = Slapd(
            tmp_path / f"slapd{len(started)}",
            objs,
            LDAP_PASSWORD,
            ldap_tls_files["cert"],
            ldap_tls_files["key"],
            ldap_tls_files["ca"],
        )
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture
def password_file(tmp_path: Path) -> Path:
    path = tmp_path / "bind-password"
    path.write_text(LDAP_PASSWORD + "\n")
    path.chmod(0o600)
    return path
