"""Debian's prometheus and prometheus-alertmanager as private processes on free
loopback ports, plus an HTTP receiver that records what Alertmanager sends."""

from __future__ import annotations

import json
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

from tests.peers.dnsmasq import free_port
from tests.peers.process import stop, wait_http


class Receiver:
    """Records every POST body (JSON) by path."""

    def __init__(self) -> None:
        self.received: list[tuple[str, Any]] = []
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                received.append((self.path, json.loads(body or b"null")))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, predicate: Any, timeout: float = 60) -> tuple[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for item in list(self.received):
                if predicate(*item):
                    return item
            time.sleep(0.1)
        raise AssertionError(f"nothing matching arrived within {timeout}s: {self.received}")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Alertmanager:
    def __init__(self, workdir: Path, config: dict[str, Any]) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        path = workdir / "alertmanager.yml"
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        self.proc = subprocess.Popen(
            [
                "prometheus-alertmanager",
                f"--config.file={path}",
                f"--storage.path={workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--cluster.listen-address=",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        wait_http(f"http://127.0.0.1:{self.port}/-/ready", self.proc, "alertmanager")

    def stop(self) -> None:
        stop(self.proc)


class Prometheus:
    def __init__(self, workdir: Path, config: dict[str, Any], rule_files: list[Path]) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        config = {**config, "rule_files": [str(p) for p in rule_files]}
        path = workdir / "prometheus.yml"
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        self.proc = subprocess.Popen(
            [
                "prometheus",
                f"--config.file={path}",
                f"--storage.tsdb.path={workdir / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        wait_http(f"http://127.0.0.1:{self.port}/-/ready", self.proc, "prometheus")

    def query(self, expr: str) -> list[dict[str, Any]]:
        url = f"http://127.0.0.1:{self.port}/api/v1/query?" + urllib.parse.urlencode(
            {"query": expr}
        )
        with urllib.request.urlopen(url, timeout=10) as response:
            data = json.load(response)
        assert data["status"] == "success", data
        return list(data["data"]["result"])

    def stop(self) -> None:
        stop(self.proc)
