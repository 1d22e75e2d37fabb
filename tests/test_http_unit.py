"""The HTTP layer in-process, with a stand-in refresher: how responses are written
and how often the exporter's own metrics are rendered."""

from __future__ import annotations

import gzip
import http.client
import logging
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from exporter.service import http as service_http
from exporter.service.collector import ExporterState, Exposition
from exporter.service.http import ExporterServer, OwnMetrics
from exporter.service.webconfig import BasicAuth


class _Refresher:
    """What the HTTP layer reads from a Refresher."""

    def __init__(self, exposition: Exposition) -> None:
        self.exposition = exposition
        self.snapshot = None
        self.ready = threading.Event()
        self.reload_ok = True

    def state(self) -> ExporterState:
        return ExporterState(self.reload_ok, None, 60.0)


@pytest.fixture
def server() -> Iterator[tuple[ExporterServer, _Refresher]]:
    big = b"".join(b'exchange_test{n="%d"} 1\n' % i for i in range(20_000))  # ~470 KB
    refresher = _Refresher(Exposition(big, gzip.compress(big)))
    srv = ExporterServer(
        ("127.0.0.1", 0),
        refresher,
        BasicAuth({}),
        logging.getLogger("test"),  # type: ignore[arg-type]
    )
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv, refresher
    srv.shutdown()
    srv.server_close()


def _get(srv: ExporterServer, method: str = "GET", **headers: str) -> tuple[Any, bytes]:
    conn = http.client.HTTPConnection(*srv.server_address[:2], timeout=5)  # type: ignore[misc]
    conn.request(method, "/metrics", headers=headers)
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return response, body


def test_a_large_exposition_arrives_whole_after_the_own_metrics(server) -> None:
    srv, refresher = server
    response, body = _get(srv)
    assert response.status == 200
    assert int(response.headers["Content-Length"]) == len(body)
    assert body.endswith(refresher.exposition.plain)
    assert b"process_cpu_seconds_total" in body[: -len(refresher.exposition.plain)]


def test_gzip_and_head(server) -> None:
    srv, refresher = server
    response, body = _get(srv, **{"Accept-Encoding": "gzip"})
    assert response.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(body).endswith(refresher.exposition.plain)
    response, body = _get(srv, "HEAD")
    assert body == b""
    assert int(response.headers["Content-Length"]) > len(refresher.exposition.plain)


def test_own_metrics_are_rendered_at_most_once_per_max_age(monkeypatch) -> None:
    refresher = _Refresher(Exposition())
    own = OwnMetrics(refresher)  # type: ignore[arg-type]
    first = own.get()
    assert own.get() is first  # within the max age: the same rendering
    assert b"exchange_exporter_config_last_reload_successful 1.0" in first.plain
    assert gzip.decompress(first.gzipped) == first.plain
    refresher.reload_ok = False  # a reload's outcome shows at once
    changed = own.get()
    assert b"exchange_exporter_config_last_reload_successful 0.0" in changed.plain
    monkeypatch.setattr(service_http, "OWN_MAX_AGE", 0.0)
    assert own.get() is not changed
