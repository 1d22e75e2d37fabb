"""A real DNS server: Debian's dnsmasq, started by a test on a free loopback port.

Records are ``--host-record`` lines; ``--local`` makes unknown names in the test
zones NXDOMAIN rather than REFUSED (../shared/TEST-PEERS.md).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time

import dns.message
import dns.query
import dns.rdatatype

from tests.peers.process import stop as stop_process

DNSMASQ = "/usr/sbin/dnsmasq"


def free_port(address: str = "127.0.0.1") -> int:
    """A port free for both UDP and TCP on ``address``."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind((address, 0))
            port = udp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind((address, port))
                except OSError:
                    continue
                return int(port)
    raise RuntimeError("no free port")


class Dnsmasq:
    def __init__(
        self,
        records: dict[str, list[str]],
        zones: tuple[str, ...] = ("contoso.com", "contoso.local"),
        address: str = "127.0.0.1",
        extra: list[str] | None = None,
    ) -> None:
        binary = shutil.which("dnsmasq") or DNSMASQ
        self.address = address
        self.port = free_port(address)
        args = [
            binary,
            "--no-daemon",
            "--no-resolv",
            "--no-hosts",
            "--bind-interfaces",
            f"--listen-address={address}",
            f"--port={self.port}",
            "--log-facility=-",
            "--conf-file=/dev/null",
            "--user=root" if _is_root() else "--user=nobody",
        ]
        args += [f"--local=/{zone}/" for zone in zones]
        for name, addresses in records.items():
            if sum(":" not in a for a in addresses) > 1 or sum(":" in a for a in addresses) > 1:
                raise ValueError(f"dnsmasq --host-record takes one IPv4 and one IPv6: {name}")
            args.append(f"--host-record={name},{','.join(addresses)}")
        args += extra or []
        self.process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self._wait_ready()

    @property
    def nameserver(self) -> str:
        return f"{self.address}:{self.port}"

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 10
        query = dns.message.make_query("ready.invalid.", dns.rdatatype.A)
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                output = self.process.stdout.read().decode() if self.process.stdout else ""
                raise RuntimeError(f"dnsmasq exited: {output.strip()}")
            try:
                dns.query.udp(query, self.address, port=self.port, timeout=0.2)
                return
            except (dns.exception.Timeout, OSError):
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("dnsmasq did not answer within 10s")

    def pause(self) -> None:
        """SIGSTOP: its socket stays bound, but no question is answered (a hung DNS)."""
        os.kill(self.process.pid, signal.SIGSTOP)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGCONT)
        stop_process(self.process, timeout=5)


def _is_root() -> bool:
    return os.geteuid() == 0
