"""Command line: ``exchange-cert-exporter <command>``. Parses flags, loads config, runs
the pipeline and hands the snapshot to a renderer. Every error a user can cause
ends here as one line on stderr and an exit code, never a traceback.

Flags use the dotted names of the Prometheus exporters (``--config.file``).
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from exporter.cliparser import PROG, REPORT_EXIT, UsageError, build_parser
from exporter.config import Config, ConfigError, load_config
from exporter.config.durations import parse_duration
from exporter.logs import setup_logging
from exporter.nagios.command import run_check
from exporter.pipeline import run_cycle
from exporter.preflightcli import PreflightInputError, cmd_preflight
from exporter.render.json import snapshot_json
from exporter.render.names import render_names
from exporter.render.powershell import render_powershell
from exporter.render.table import render_table
from exporter.service.connections import (
    ConnectionLimits,
)
from exporter.service.run import parse_listen_address, serve
from exporter.service.webconfig import WebConfig, load_web_config

EXIT_USAGE = 2


def cmd_demo(args: argparse.Namespace) -> int:
    try:
        listen = parse_listen_address(args.listen)
        loopback = ipaddress.ip_address(listen[0]).is_loopback
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if not loopback:
        raise UsageError(f"the demo listens on loopback only, not {listen[0]}")
    logger = setup_logging(args.log_level, args.log_format)
    with tempfile.TemporaryDirectory(prefix="exchange-cert-demo-") as tmp:
        # The lab (its PKI, TLS and DNS servers) loads for the demo only.
        from exporter.lab.scenario import start_lab  # noqa: PLC0415

        lab = start_lab(Path(tmp))
        try:
            config = load_config(str(lab.config_path))

            def announce(url: str) -> None:
                print(
                    f"Demo running: open {url} (the lab's config: {lab.config_path}). "
                    "Ctrl-C stops it.",
                    flush=True,
                )

            return _serving(
                args.listen,
                lambda: serve(
                    str(lab.config_path), config, listen, WebConfig(), logger, on_listening=announce
                ),
            )
        finally:
            lab.close()


def cmd_serve(args: argparse.Namespace) -> int:
    logger = setup_logging(args.log_level, args.log_format)
    try:
        listen = parse_listen_address(args.listen)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    limits = _connection_limits(args)
    web = load_web_config(args.web_config) if args.web_config else WebConfig()
    config = load_config(args.config_file)
    return _serving(
        args.listen,
        lambda: serve(args.config_file, config, listen, web, logger, limits=limits),
    )


def _connection_limits(args: argparse.Namespace) -> ConnectionLimits:
    try:
        timeout = parse_duration(args.read_header_timeout)
    except ValueError as exc:
        raise UsageError(f"--web.read-header-timeout {exc}") from None
    if timeout <= 0:
        raise UsageError("--web.read-header-timeout must be above 0s")
    if args.max_connections < 1:
        raise UsageError("--web.max-connections must be at least 1")
    return ConnectionLimits(args.max_connections, timeout)


def _serving(listen: str, run: Callable[[], int]) -> int:
    """Run a server; a bind failure is one line naming the address."""
    try:
        return run()
    except OSError as exc:
        print(f"{PROG}: error: cannot listen on {listen}: {exc.strerror or exc}", file=sys.stderr)
        return 1


def _warn_notices(config: Config) -> None:
    """Deprecated keys: one line each on stderr; the run goes on."""
    for notice in config.notices:
        print(f"{PROG}: warning: {notice}", file=sys.stderr)


def cmd_report(args: argparse.Namespace) -> int:
    config = load_config(args.config_file)
    _warn_notices(config)
    snapshot = run_cycle(config)
    if args.format == "json":
        sys.stdout.write(json.dumps(snapshot_json(snapshot), indent=2) + "\n")
    elif args.format == "names":
        sys.stdout.write(render_names(snapshot))
    elif args.format == "powershell":
        sys.stdout.write(render_powershell(snapshot))
    else:
        sys.stdout.write(render_table(snapshot, colour=sys.stdout.isatty()))
    return REPORT_EXIT[snapshot.status]


def cmd_healthcheck(args: argparse.Namespace) -> int:
    from exporter.service.healthcheck import check  # noqa: PLC0415 - this command only

    try:
        host, port = parse_listen_address(args.listen)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    healthy, seen = check("127.0.0.1" if host in ("0.0.0.0", "") else host, port)  # noqa: S104
    print(f"{PROG}: {'healthy' if healthy else 'unhealthy'}: {seen}")
    return 0 if healthy else 1


COMMANDS = {
    "report": cmd_report,
    "serve": cmd_serve,
    "demo": cmd_demo,
    "healthcheck": cmd_healthcheck,
    "preflight": cmd_preflight,
}


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["check"]:
        # The Nagios check owns its arguments: its usage errors are UNKNOWN (3), not 2.
        return run_check(args_list[1:])
    try:
        args = build_parser().parse_args(args_list)
        return COMMANDS[args.command](args)
    except UsageError as exc:
        print(f"{PROG}: error: {exc} (see {PROG} --help)", file=sys.stderr)
        return EXIT_USAGE
    except PreflightInputError as exc:
        print(f"{PROG}: preflight: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ConfigError as exc:
        for line in exc.lines():
            print(f"{PROG}: config error: {line}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `report | head`: the reader left. Quietly, like any Unix filter.
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - stays open until exit
        return 0
    except Exception as exc:  # noqa: BLE001 - the last net: a user never sees a traceback
        print(f"{PROG}: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 70  # EX_SOFTWARE
