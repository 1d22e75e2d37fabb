"""HTTP endpoints of ``serve``: ``/``, ``/metrics``, ``/api/v1/status``,
``/-/healthy``, ``/-/ready`` and ``POST /-/reload``. Every handler reads the current
snapshot; none waits for a probe. Basic auth (when configured) guards them all.
Each request arrives with its head read whole by service/connections.py's loop,
which bounds the connections and the time their heads may take.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import socket
import ssl
import time
from http.server import BaseHTTPRequestHandler
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

from exporter.render.html import render_page
from exporter.render.json import reload_json, snapshot_json
from exporter.service.collector import ExporterCollector, ExporterState, Exposition
from exporter.service.connections import Connection, ConnectionLimits, ConnectionServer
from exporter.service.refresher import Refresher
from exporter.service.webconfig import BasicAuth

# The response's write buffer: the status line, the headers and the small parts go
# out in one system call (each is also a GIL hand-off); a larger part goes straight
# through without a copy (at 1,000 endpoints the plain metrics are a megabyte).
WRITE_BUFFER = 64 * 1024

# The classic text format, which every Prometheus parses (Debian 12 ships 2.42).
CONTENT_TYPE_METRICS = "text/plain; version=0.0.4; charset=utf-8"


def accepts_gzip(header: str | None) -> bool:
    """Whether an Accept-Encoding header (RFC 9110 12.5.3) admits gzip: named
    (gzip or x-gzip) with a weight above 0, or else through ``*``."""
    weights: dict[str, float] = {}
    for item in (header or "").split(","):
        coding, _, params = item.strip().partition(";")
        q = params.strip().lower().removeprefix("q=")
        try:
            weights[coding.strip().lower()] = float(q) if params.strip() else 1.0
        except ValueError:
            weights[coding.strip().lower()] = 0.0
    for coding in ("gzip", "x-gzip", "*"):
        if coding in weights:
            return weights[coding] > 0
    return False


def build_registry(refresher: Refresher) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ExporterCollector(refresher.state))
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    return registry


# The exporter's own metrics (process_*, python_*, build and reload state) are
# rendered at most once a second, and again at once when the reload state changes:
# reading /proc for them on every scrape cost more than serving the whole snapshot
# (benchmarks/README.md), and no Prometheus scrapes that often.
OWN_MAX_AGE = 1.0


class OwnMetrics:
    """The exporter's own metrics as served, plain and gzipped, at most OWN_MAX_AGE old."""

    def __init__(self, refresher: Refresher) -> None:
        self.registry = build_registry(refresher)
        self._state = refresher.state
        self._cached: tuple[float, ExporterState, Exposition] | None = None

    def get(self) -> Exposition:
        now, state, cached = time.monotonic(), self._state(), self._cached
        if cached is None or now - cached[0] >= OWN_MAX_AGE or cached[1] != state:
            cached = (now, state, Exposition.of(generate_latest(self.registry)))
            self._cached = cached  # threads racing here render the same thing twice
        return cached[2]


class ExporterServer(ConnectionServer):
    """The endpoints on a listener bounded by ``limits`` (service/connections.py)."""

    def __init__(
        self,
        address: tuple[str, int],
        refresher: Refresher,
        auth: BasicAuth,
        logger: logging.Logger,
        tls: ssl.SSLContext | None = None,
        headers: dict[str, str] | None = None,
        limits: ConnectionLimits | None = None,
    ) -> None:
        """``headers``: the web config's http_server_config.headers, on every response."""
        super().__init__(address, _Handler, logger, tls, limits)
        self.refresher = refresher
        self.auth = auth
        self.own_metrics = OwnMetrics(refresher)
        self.headers = dict(headers or {})

    def serve_request(self, conn: Connection, head: bytes) -> bool:
        handler = _Handler(head, conn.sock, conn.address, self)
        headers = getattr(handler, "headers", None)
        # A body is never read (no path takes one): it would be read as the next request.
        has_body = headers is not None and (
            headers.get("Content-Length", "0").strip() not in ("", "0")
            or "Transfer-Encoding" in headers
        )
        return not handler.close_connection and not has_body


class _Handler(BaseHTTPRequestHandler):
    """One request whose head the connection loop has read whole."""

    server: ExporterServer
    protocol_version = "HTTP/1.1"
    wbufsize = WRITE_BUFFER  # socketserver's public knob; handle_one_request() flushes
    server_version = "exchange-cert-exporter"

    def __init__(
        self, head: bytes, sock: socket.socket, address: tuple[str, int], server: ExporterServer
    ) -> None:
        self._head = head
        super().__init__(sock, address, server)

    def setup(self) -> None:
        self.connection = self.request
        self.rfile = io.BytesIO(self._head)
        self.wfile = self.connection.makefile("wb", self.wbufsize)

    def handle(self) -> None:
        self.close_connection = True
        self.handle_one_request()  # the loop reads the next request's head

    def log_message(self, format: str, *args: Any) -> None:
        self.server.logger.debug(
            "http request",
            extra={"fields": {"client": self.client_address[0], "request": format % args}},
        )

    def _send(
        self,
        code: int,
        body: bytes | tuple[bytes, ...],
        content_type: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Send ``body``, or its parts, through the buffered ``wfile`` (WRITE_BUFFER)."""
        parts = body if isinstance(body, tuple) else (body,)
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(sum(map(len, parts))))
        # The configured headers win over the defaults and over a path's own.
        merged = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
        merged.update(headers or {})
        merged.update(self.server.headers)
        for key, value in merged.items():
            self.send_header(key, value)
        self.end_headers()  # into the write buffer: no system call yet
        for part in parts if self.command != "HEAD" else ():
            self.wfile.write(part)

    def _text(self, code: int, text: str, headers: dict[str, str] | None = None) -> None:
        self._send(code, text.encode(), "text/plain; charset=utf-8", headers)

    def _authorised(self) -> bool:
        if self.server.auth.check(self.headers.get("Authorization")):
            return True
        self._text(
            401, "Unauthorized\n", {"WWW-Authenticate": 'Basic realm="exchange-cert-exporter"'}
        )
        return False

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        # /-/healthy says only that the process runs: a container's health check
        # needs no credentials for it (README, "Docker and systemd").
        if path != "/-/healthy" and not self._authorised():
            return
        refresher = self.server.refresher
        if path == "/metrics":
            self._metrics()
        elif path == "/":
            now = dt.datetime.now(dt.UTC)
            page = render_page(
                refresher.snapshot, now, refresher.config.probe.interval, refresher.reload_status
            )
            self._send(
                200,
                page.encode(),
                "text/html; charset=utf-8",
                {
                    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
                    "script-src 'unsafe-inline'; img-src 'self'"
                },
            )
        elif path == "/api/v1/status":
            snapshot, reload = refresher.snapshot, refresher.reload_status
            if snapshot is None:
                starting = {"status": "starting", "reload": reload_json(reload)}
                self._send(503, json.dumps(starting).encode() + b"\n", "application/json")
            else:
                body = json.dumps(snapshot_json(snapshot, reload), indent=2).encode()
                self._send(200, body, "application/json")
        elif path == "/-/healthy":
            self._text(200, "Healthy\n")
        elif path == "/-/ready":
            if refresher.ready.is_set():
                self._text(200, "Ready\n")
            else:
                self._text(503, "Not ready: the first refresh is still running\n")
        elif path == "/-/reload":
            self._text(405, "Use POST to reload\n", {"Allow": "POST"})
        else:
            self._text(404, "Not found\n")

    def _metrics(self) -> None:
        own, rendered = self.server.own_metrics.get(), self.server.refresher.exposition
        if accepts_gzip(self.headers.get("Accept-Encoding")):
            body = (own.gzipped, rendered.gzipped)
            headers = {"Content-Encoding": "gzip", "Vary": "Accept-Encoding"}
        else:
            body, headers = (own.plain, rendered.plain), {"Vary": "Accept-Encoding"}
        self._send(200, body, CONTENT_TYPE_METRICS, headers)

    def do_POST(self) -> None:
        if not self._authorised():
            return
        if self.path.split("?", 1)[0] != "/-/reload":
            self._text(405 if self.path in ("/", "/metrics") else 404, "Not allowed\n")
            return
        ok, message = self.server.refresher.reload()
        self._text(200 if ok else 500, message + "\n")
