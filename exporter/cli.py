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
import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

from exporter import __version__
from exporter.config import Config, ConfigError, load_config
from exporter.config.durations import format_duration, parse_duration
from exporter.evaluate.outcome import Status
from exporter.logs import setup_logging
from exporter.nagios.command import run_check
from exporter.pipeline import run_cycle
from exporter.render.json import snapshot_json
from exporter.render.names import render_names
from exporter.render.powershell import render_powershell
from exporter.render.table import render_table
from exporter.service.connections import (
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_READ_HEADER_TIMEOUT,
    ConnectionLimits,
)
from exporter.service.run import DEFAULT_LISTEN, parse_listen_address, serve
from exporter.service.webconfig import WebConfig, load_web_config

PROG = "exchange-cert-exporter"
EXIT_USAGE = 2
DEMO_LISTEN = "127.0.0.1:9940"

# report: 0 all ok, 1 warnings only, 2 anything critical (or unknown).
REPORT_EXIT = {Status.OK: 0, Status.WARNING: 1, Status.CRITICAL: 2, Status.UNKNOWN: 2}
# What `report --help` says of them; tests/test_cli_help.py holds it to REPORT_EXIT.
REPORT_EXIT_HELP = """\
exit codes (the status of the worst endpoint):
  0    ok: every endpoint is ok
  1    warning: warnings, nothing critical or unknown
  2    critical or unknown: an endpoint is critical or could not be judged, or
       nothing was found to probe; also a bad config or bad arguments (one line
       each on stderr, nothing on stdout)
  70   an internal error (one line on stderr)
  130  interrupted (Ctrl-C)
"""


class UsageError(Exception):
    """A bad flag or argument: one line, exit 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def _config_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config.file",
        dest="config_file",
        required=True,
        metavar="FILE",
        help="YAML configuration (see config.example.yaml)",
    )


def _logging_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--log.level", dest="log_level", default="info", choices=("debug", "info", "warn", "error")
    )
    parser.add_argument(
        "--log.format", dest="log_format", default="logfmt", choices=("logfmt", "json")
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Finds the Exchange internal URLs that make Outlook warn about the "
        "certificate (KB 940726) and says how to fix each one.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True

    report = commands.add_parser(
        "report",
        help="probe every endpoint once and print the verdicts and fixes",
        # The raw formatter keeps the exit codes' columns; so the description is filled here.
        description=textwrap.fill(
            "Probe every endpoint of the config once, as a domain-joined Outlook client "
            "meets it, and print each verdict with its reasons and the fix: a table, the "
            "JSON contract, a reviewable PowerShell script, or the names the next "
            "certificate needs.",
            78,
        ),
        epilog=REPORT_EXIT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _config_flag(report)
    report.add_argument(
        "--format",
        choices=("table", "json", "powershell", "names"),
        default="table",
        help="table (default), json (the documented contract), powershell, or names "
        "(the names the next certificate needs)",
    )
    serve = commands.add_parser(
        "serve",
        help="run as a Prometheus exporter with a status page (the main job)",
        description="Run as a Prometheus exporter: probe every endpoint every "
        "probe.interval in the background and serve the last refresh as /metrics, the "
        "status page (/) and /api/v1/status. SIGHUP or POST /-/reload reloads the config; "
        "SIGTERM stops it (exit 0). Exit 1 if it cannot listen, 2 for a bad config or bad "
        "arguments.",
    )
    _config_flag(serve)
    serve.add_argument(
        "--web.listen-address",
        dest="listen",
        default=DEFAULT_LISTEN,
        metavar="ADDR",
        help=f"where to listen (default {DEFAULT_LISTEN})",
    )
    serve.add_argument(
        "--web.config.file",
        dest="web_config",
        metavar="FILE",
        help="TLS and basic auth, in the Prometheus exporter-toolkit format",
    )
    serve.add_argument(
        "--web.max-connections",
        dest="max_connections",
        type=int,
        default=DEFAULT_MAX_CONNECTIONS,
        metavar="N",
        help="connections open at once (default %(default)s); at the cap a new one "
        "closes the one waiting longest for its request; keep it well under the "
        "descriptor limit (LimitNOFILE)",
    )
    serve.add_argument(
        "--web.read-header-timeout",
        dest="read_header_timeout",
        default=format_duration(DEFAULT_READ_HEADER_TIMEOUT),
        metavar="DURATION",
        help="the TLS handshake and the request headers must arrive within this of the "
        "connection (default %(default)s); trickled bytes do not extend it",
    )
    _logging_flags(serve)
    commands.add_parser(
        "check",
        add_help=False,
        help="a Nagios/Icinga check (see exchange-cert-exporter check --help)",
    )
    health = commands.add_parser(
        "healthcheck",
        help="exit 0 if the exporter at ADDR answers (the container's check)",
        description="Ask the exporter at ADDR for /-/healthy (over TLS when plain HTTP is "
        "refused) and print what it saw: the container's health check. Exit 0 healthy, "
        "1 unhealthy, 2 for bad arguments.",
    )
    health.add_argument(
        "--web.listen-address",
        dest="listen",
        default="127.0.0.1:9940",
        metavar="ADDR",
        help="where the exporter listens (default 127.0.0.1:9940)",
    )
    demo = commands.add_parser(
        "demo",
        help="run serve against an embedded loopback lab that reproduces KB 940726",
        description="Start a lab on loopback (its own CA, TLS, SMTP and DNS servers: no "
        "Exchange, no Active Directory, no root) that reproduces KB 940726, and run serve "
        "against it; it prints the page's address and the lab's config. Ctrl-C stops it.",
    )
    demo.add_argument(
        "--web.listen-address",
        dest="listen",
        default=DEMO_LISTEN,
        metavar="ADDR",
        help=f"loopback address to listen on (default {DEMO_LISTEN})",
    )
    _logging_flags(demo)
    return parser


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
