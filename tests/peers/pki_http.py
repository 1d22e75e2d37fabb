"""A real HTTP server on loopback for what certificates point at: AIA certificates
(``application/pkix-cert``), CRLs (``application/pkix-crl``), and the faults a CDP
has (404, a hang, a 50 MB body, garbage, a redirect to another host).

Python's ``http.server`` in threads; each route counts its requests, so a test can
prove the exporter's cache.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Route:
    body: bytes = b""
    status: int = 200
    content_type: str = "application/octet-stream"
    headers: dict[str, str] = field(default_factory=dict)
    hang: float = 0.0  # seconds to wait before answering at all
    stream: int = 0  # instead of ``body``: this many zero bytes, in chunks
    answer: Callable[[bytes], bytes] | None = None  # a POST's body -> the response body
    hits: int = 0


class PkiHttp:
    def __init__(self, address: str = "127.0.3.1") -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, str, str]] = []  # (method, path, Host header)
        peer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: object) -> None:
                pass

            def do_GET(self) -> None:
                peer._answer(self, b"")

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                peer._answer(self, self.rfile.read(length))

        self._server = ThreadingHTTPServer((address, 0), Handler)
        self._server.daemon_threads = True
        self.address = address
        self.port = self._server.server_address[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def url(self, path: str, host: str = "pki.contoso.com") -> str:
        return f"http://{host}:{self.port}{path}"

    def serve(self, path: str, **route: object) -> Route:
        self.routes[path] = Route(**route)  # type: ignore[arg-type]
        return self.routes[path]

    def _answer(self, handler: BaseHTTPRequestHandler, request: bytes) -> None:
        self.requests.append((handler.command, handler.path, handler.headers.get("Host", "")))
        route = self.routes.get(handler.path)
        if route is None:
            handler.send_error(404)
            return
        route.hits += 1
        if route.hang:
            self._stop.wait(route.hang)
        body = route.answer(request) if route.answer is not None else route.body
        try:
            handler.send_response(route.status)
            handler.send_header("Content-Type", route.content_type)
            for name, value in route.headers.items():
                handler.send_header(name, value)
            if route.stream:
                handler.send_header("Connection", "close")
                handler.end_headers()
                chunk = bytes(1 << 16)
                for _ in range(route.stream // len(chunk)):
                    handler.wfile.write(chunk)
                return
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            handler.wfile.write(body)
        except OSError:
            pass  # the client gave up (a size limit): expected

    def close(self) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        time.sleep(0)
