"""The exporter itself as a subprocess (``python -m exporter serve``), as users run it."""

from __future__ import annotations

import base64
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.peers.dnsmasq import free_port


class ExporterProcess:
    def __init__(
        self, config: Path, *args: str, address: str = "127.0.0.1", log_file: Path | None = None
    ) -> None:
        self.address, self.port = address, free_port(address)
        self.base = f"http://{address}:{self.port}"
        self.log_file = log_file
        self._log = open(log_file, "wb") if log_file else subprocess.DEVNULL  # noqa: SIM115
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "exporter",
                "serve",
                "--config.file",
                str(config),
                "--web.listen-address",
                f"{address}:{self.port}",
                *args,
            ],
            stdout=self._log,
            stderr=self._log,
        )

    def get(
        self,
        path: str,
        *,
        auth: tuple[str, str] | None = None,
        method: str = "GET",
        context: ssl.SSLContext | None = None,
        base: str | None = None,
        timeout: float = 10,
    ) -> tuple[int, str, dict[str, str]]:
        request = urllib.request.Request((base or self.base) + path, method=method)  # noqa: S310
        if auth:
            token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
            request.add_header("Authorization", f"Basic {token}")
        try:
            with urllib.request.urlopen(request, timeout=timeout, context=context) as response:  # noqa: S310
                return response.status, response.read().decode(), dict(response.headers)
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode(), dict(exc.headers)

    def wait_ready(self, timeout: float = 30, **kwargs: object) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"exporter exited with {self.process.returncode}: {self.logs()}")
            try:
                if self.get("/-/ready", **kwargs)[0] == 200:  # type: ignore[arg-type]
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"exporter not ready within {timeout}s: {self.logs()}")

    def logs(self) -> str:
        return self.log_file.read_text() if self.log_file and self.log_file.exists() else ""

    def terminate(self, timeout: float = 10) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                raise
        if self._log is not subprocess.DEVNULL:
            self._log.close()
        return self.process.returncode
