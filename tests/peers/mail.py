"""The mail protocols' real peers on loopback: aiosmtpd for SMTP with STARTTLS, and
Debian's dovecot for IMAP and POP3 (STARTTLS and implicit TLS) on high ports, run in
the foreground with a config the test writes (../shared/TEST-PEERS.md).
"""

from __future__ import annotations

import socket
import ssl
import subprocess
import time
from pathlib import Path

from aiosmtpd.controller import Controller

from tests.peers.process import stop


class Smtp:
    """aiosmtpd on ``address``: STARTTLS with ``cert``/``key`` when given, else none
    offered. ``port`` 0 picks a free one."""

    def __init__(self, address: str, cert: Path | None, key: Path | None, port: int = 0) -> None:
        context = None
        if cert is not None and key is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(cert, key)
        self.port = port or _free_port(address)
        self._controller = Controller(
            _Accept(), hostname=address, port=self.port, tls_context=context, ready_timeout=10
        )
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()


class _Accept:
    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        return "250 OK"


class Dovecot:
    """IMAP and POP3 with STARTTLS (``imap``, ``pop3``) and implicit TLS (``imaps``,
    ``pop3s``), each on its own port of ``address``, presenting ``cert``."""

    PROTOCOLS = ("imap", "imaps", "pop3", "pop3s")

    def __init__(self, workdir: Path, address: str, cert: Path, key: Path) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.address = address
        self.ports = {name: _free_port(address) for name in self.PROTOCOLS}
        conf = workdir / "dovecot.conf"
        conf.write_text(_config(workdir, address, cert, key, self.ports))
        self._proc = subprocess.Popen(
            ["/usr/sbin/dovecot", "-F", "-c", str(conf)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        self._wait()

    def _wait(self, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        pending = set(self.ports.values())
        while pending and time.monotonic() < deadline:
            if self._proc.poll() is not None:
                out = self._proc.stdout.read().decode() if self._proc.stdout else ""
                raise RuntimeError(f"dovecot exited: {out[-2000:]}")
            for port in list(pending):
                try:
                    socket.create_connection((self.address, port), timeout=0.5).close()
                    pending.discard(port)
                except OSError:
                    time.sleep(0.05)
        if pending:
            self.stop()
            raise RuntimeError(f"dovecot not listening on {sorted(pending)} within {timeout}s")

    def stop(self) -> None:
        stop(self._proc)
        if self._proc.stdout:
            self._proc.stdout.close()


def _config(workdir: Path, address: str, cert: Path, key: Path, ports: dict[str, int]) -> str:
    def listener(service: str, name: str, tls: bool) -> str:
        ssl_line = "    ssl = yes\n" if tls else ""
        return (
            f"  inet_listener {name} {{\n    address = {address}\n"
            f"    port = {ports[name]}\n{ssl_line}  }}\n"
        )

    return (
        f"base_dir = {workdir}/run\nstate_dir = {workdir}/state\n"
        "log_path = /dev/stderr\ninfo_log_path = /dev/stderr\n"
        f"protocols = imap pop3\nlisten = {address}\nssl = yes\n"
        f"ssl_cert = <{cert}\nssl_key = <{key}\n"
        f"mail_location = maildir:{workdir}/mail/%u\n"
        "passdb {\n  driver = static\n  args = password=unused\n}\n"
        "userdb {\n  driver = static\n"
        f"  args = uid=nobody gid=nogroup home={workdir}/mail/%u\n}}\n"
        "service imap-login {\n"
        + listener("imap", "imap", False)
        + listener("imap", "imaps", True)
        + "}\nservice pop3-login {\n"
        + listener("pop3", "pop3", False)
        + listener("pop3", "pop3s", True)
        + "}\nservice anvil {\n  unix_listener anvil-auth-penalty {\n    mode = 0\n  }\n}\n"
    )


def _free_port(address: str) -> int:
    with socket.socket() as sock:
        sock.bind((address, 0))
        return int(sock.getsockname()[1])
