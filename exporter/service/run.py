"""``serve``: start the refresher and the HTTP server, handle SIGHUP (reload) and
SIGTERM/SIGINT (stop cleanly within a few seconds)."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType

from exporter.config import Config
from exporter.pipeline import World
from exporter.service.http import ExporterServer
from exporter.service.refresher import Refresher
from exporter.service.webconfig import BasicAuth, WebConfig

DEFAULT_LISTEN = ":9940"


def parse_listen_address(text: str) -> tuple[str, int]:
    """``:9940``, ``127.0.0.1:9940``, ``[::1]:9940`` -> (host, port); ValueError if bad."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ValueError(f"--web.listen-address {text!r} is not HOST:PORT")
    host = host.strip("[]") or "0.0.0.0"  # noqa: S104 - like every exporter's default
    return host, int(port)


def serve(
    config_path: str,
    config: Config,
    listen: tuple[str, int],
    web: WebConfig,
    logger: logging.Logger,
    world: World | None = None,
    on_listening: Callable[[str], None] | None = None,
) -> int:
    # Probe threads hold the GIL in 5 ms slices by default; a shorter interval lets a
    # scrape's thread in sooner during a refresh (/metrics p99, benchmarks/RESULTS.md).
    sys.setswitchinterval(0.0005)
    for notice in config.notices:
        logger.warning("deprecated config key", extra={"fields": {"notice": notice}})
    refresher = Refresher(config_path, config, logger, world)
    server = ExporterServer(
        listen, refresher, BasicAuth(web.users), logger, web.ssl_context(), web.headers
    )
    stopping = threading.Event()

    def on_term(signum: int, _frame: FrameType | None) -> None:
        logger.info("stopping", extra={"fields": {"signal": signal.Signals(signum).name}})
        stopping.set()
        threading.Thread(target=server.shutdown, daemon=True).start()

    def on_hup(_signum: int, _frame: FrameType | None) -> None:
        threading.Thread(target=refresher.reload, daemon=True).start()

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    signal.signal(signal.SIGHUP, on_hup)
    host, port = listen[0], server.server_port
    scheme = "https" if web.cert_file else "http"
    logger.info(
        "listening",
        extra={
            "fields": {"address": f"{host}:{port}", "scheme": scheme, "basic_auth": bool(web.users)}
        },
    )
    if on_listening is not None:
        on_listening(f"{scheme}://{host}:{port}/")
    refresher.start()
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        refresher.stop()
        server.server_close()
    logger.info("stopped")
    return 0
