"""``serve``: start the refresher and the HTTP server, handle SIGHUP (reload) and
SIGTERM/SIGINT (stop cleanly within a few seconds)."""

from __future__ import annotations

import logging
import resource
import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType

from exporter.config import Config
from exporter.pipeline import World
from exporter.service.connections import ConnectionLimits
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


# Descriptors the rest of the process may hold beside the web connections: the
# handshakes in flight (probe.concurrency, added below), DNS, LDAP, AIA/CRL/OCSP
# fetches, the log and Python's own.
RESERVED_DESCRIPTORS = 64


def _warn_if_descriptors_short(
    limits: ConnectionLimits, config: Config, logger: logging.Logger
) -> None:
    """Past the descriptor limit accept() fails: the loop then closes waiting
    connections to make room, but the probes' sockets would fail too."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = limits.max_connections + config.probe.concurrency + RESERVED_DESCRIPTORS
    if soft != resource.RLIM_INFINITY and soft < needed:
        logger.warning(
            "descriptor limit below what --web.max-connections needs",
            extra={
                "fields": {
                    "limit": soft,
                    "needed": needed,
                    "max_connections": limits.max_connections,
                    "hint": "raise LimitNOFILE (ulimit -n) or lower --web.max-connections",
                }
            },
        )


def serve(
    config_path: str,
    config: Config,
    listen: tuple[str, int],
    web: WebConfig,
    logger: logging.Logger,
    world: World | None = None,
    on_listening: Callable[[str], None] | None = None,
    limits: ConnectionLimits | None = None,
) -> int:
    limits = limits or ConnectionLimits()
    # Probe threads hold the GIL in 5 ms slices by default; a shorter interval lets a
    # scrape's thread in sooner during a refresh (/metrics p99, benchmarks/RESULTS.md).
    sys.setswitchinterval(0.0005)
    for notice in config.notices:
        logger.warning("deprecated config key", extra={"fields": {"notice": notice}})
    refresher = Refresher(config_path, config, logger, world)
    server = ExporterServer(
        listen, refresher, BasicAuth(web.users), logger, web.ssl_context(), web.headers, limits
    )
    _warn_if_descriptors_short(limits, config, logger)
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
            "fields": {
                "address": f"{host}:{port}",
                "scheme": scheme,
                "basic_auth": bool(web.users),
                "max_connections": limits.max_connections,
                "read_header_timeout": limits.read_header_timeout,
            }
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
