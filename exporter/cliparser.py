"""The command line's grammar: every command's flags, descriptions and exit codes
(``exchange-cert-exporter <command> --help``). exporter/cli.py runs them."""

from __future__ import annotations

import argparse
import textwrap
from typing import Any, NoReturn

from exporter import __version__
from exporter.config.durations import format_duration
from exporter.evaluate.outcome import Status
from exporter.service.connections import DEFAULT_MAX_CONNECTIONS, DEFAULT_READ_HEADER_TIMEOUT
from exporter.service.run import DEFAULT_LISTEN

PROG = "exchange-cert-exporter"
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
    _preflight_parser(commands)
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


PREFLIGHT_EXIT_HELP = """\
exit codes:
  0    nothing would break for any enabled client (warnings, such as an
       incomplete chain, are listed but do not change it)
  1    something would break: the table says what
  2    bad input or configuration (one line on stderr)
"""


def _preflight_parser(commands: Any) -> None:
    preflight = commands.add_parser(
        "preflight",
        help="judge a certificate against the whole organisation before it is bound",
        description=textwrap.fill(
            "Judge CERT_FILE (PEM, DER, PKCS#7 or PKCS#12) on every endpoint of the "
            "config's inventory as if it were bound on its server for its service, or, "
            "without a config, for the --name host names: which URLs, servers and clients "
            "would break, the names it lacks, and the deployment plan when nothing would.",
            78,
        ),
        epilog=PREFLIGHT_EXIT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    preflight.add_argument("cert_file", metavar="CERT_FILE", help="the certificate to judge")
    preflight.add_argument(
        "--config.file", dest="config_file", metavar="FILE", help="the inventory, as report's"
    )
    preflight.add_argument(
        "--name", action="append", default=[], metavar="HOST",
        help="a host name to judge the certificate for (repeatable; without --config.file)",
    )  # fmt: skip
    preflight.add_argument(
        "--chain", action="append", default=[], metavar="FILE",
        help="intermediates to send with it (repeatable)",
    )  # fmt: skip
    preflight.add_argument(
        "--ca-file", action="append", default=[], metavar="FILE",
        help="trust anchors beside the config's trust.ca_files (repeatable)",
    )  # fmt: skip
    preflight.add_argument(
        "--no-system-roots", action="store_true", help="do not trust the system's roots"
    )
    preflight.add_argument("--at", metavar="TIME", help="judge as of this RFC 3339 time")
    preflight.add_argument("--no-fetch", action="store_true", help="no AIA, CRL or OCSP fetch")
    preflight.add_argument(
        "--format", choices=("table", "json", "powershell"), default="table",
        help="table (default), json, or powershell (the deployment plan)",
    )  # fmt: skip
    preflight.add_argument(
        "--password-file", metavar="FILE", help="a PKCS#12 file's password, in a file"
    )
    preflight.add_argument(
        "--password-env", metavar="NAME", help="a PKCS#12 file's password, in this variable"
    )
