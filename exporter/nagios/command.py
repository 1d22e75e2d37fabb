"""``exchange-cert-exporter check``: argument handling, the global timeout, and exit
codes per the Monitoring Plugins guidelines: 0 OK, 1 WARNING, 2 CRITICAL,
3 UNKNOWN, and UNKNOWN (one line, no traceback) for bad arguments, a bad config,
nothing to check, or the global timeout. Those lines quote what they were given
(a URL, a config value, a server name from the directory, an exception's text), so
they pass ``nagios_safe`` like the check's own output; the config's notices on
stderr pass ``terminal_safe``.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import signal
import sys
from collections.abc import Sequence
from types import FrameType
from typing import Any, NoReturn

from exporter.config import Config, ConfigError, load_config, load_config_mapping, parse_host_port
from exporter.model import Component, Endpoint, parse_url
from exporter.nagios.check import PREFIX, auth_ranges, evaluate_check, render_check
from exporter.nagios.ranges import Range, parse_range
from exporter.pipeline import run_cycle
from exporter.textsafe import nagios_safe, terminal_safe

UNKNOWN = 3
COMPONENT_BY_PATH = [
    ("/autodiscover", Component.AUTODISCOVER),
    ("/ews", Component.EWS),
    ("/oab", Component.OAB),
    ("/unifiedmessaging", Component.UM),
    ("/owa", Component.OWA),
    ("/ecp", Component.ECP),
    ("/microsoft-server-activesync", Component.EAS),
    ("/mapi", Component.MAPI),
    ("/rpc", Component.OUTLOOK_ANYWHERE),
]


class CheckUsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise CheckUsageError(message)


class _Timeout(BaseException):  # like KeyboardInterrupt: no "except Exception" may keep it
    pass


def build_check_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="exchange-cert-exporter check",
        description=(
            "Nagios/Icinga check: every Exchange internal URL as a domain-joined Outlook client "
            "meets it. Exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN."
        ),
    )
    parser.add_argument(
        "--config.file",
        dest="config_file",
        metavar="FILE",
        help="YAML configuration; or check one URL with --url",
    )
    parser.add_argument(
        "-w",
        "--warning",
        default="30:",
        metavar="RANGE",
        help="days to expiry that warn (default 30:, i.e. under 30 days)",
    )
    parser.add_argument(
        "-c",
        "--critical",
        default="7:",
        metavar="RANGE",
        help="days to expiry that are critical (default 7:)",
    )
    parser.add_argument(
        "--server",
        action="append",
        default=[],
        metavar="NAME",
        help="only this server (repeatable)",
    )
    parser.add_argument(
        "--component",
        action="append",
        default=[],
        metavar="NAME",
        choices=[c.value for c in Component],
        help="only this component (repeatable)",
    )
    parser.add_argument(
        "-t",
        "--timeout",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="give up with UNKNOWN after this long (default 60)",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="-v lists OK endpoints too, -vv adds certificate details",
    )
    parser.add_argument("--url", metavar="URL", help="check one URL without a config")
    parser.add_argument(
        "--server-address",
        metavar="ADDR",
        help="with --url: the server's own IP address (connect here)",
    )
    parser.add_argument(
        "--ca-file",
        action="append",
        default=[],
        metavar="PEM",
        help="with --url: a trusted CA (repeatable); the system store is used too",
    )
    parser.add_argument(
        "--dns-server",
        metavar="HOST[:PORT]",
        help="with --url: the internal DNS server clients use",
    )
    return parser


_BY_SCHEME = {
    "smtp": Component.SMTP,
    "smtps": Component.SMTP,
    "imap": Component.IMAP,
    "imaps": Component.IMAP,
    "pop3": Component.POP,
    "pop3s": Component.POP,
}


def _component_of(url: str, asked: list[str]) -> Component:
    """The component a --url is: by scheme for the mail protocols (``--component
    smtp_submission`` for 587), the auth metadata by its path, else by the path's
    virtual directory, else ``--component``, else EWS."""
    scheme, _, rest = url.partition("://")
    explicit = Component(asked[0]) if asked else None
    by_scheme = _BY_SCHEME.get(scheme.lower())
    if by_scheme is not None:
        return explicit if explicit is Component.SMTP_SUBMISSION else by_scheme
    path = "/" + rest.partition("/")[2].lower()
    if path.startswith("/autodiscover/metadata/json"):
        return Component.AUTH_CERTIFICATE
    return next(
        (c for prefix, c in COMPONENT_BY_PATH if path.startswith(prefix)),
        explicit or Component.EWS,
    )


def _ad_hoc_config(args: argparse.Namespace) -> Config:
    # A config's outlook_anywhere may be a bare host name; a URL to check may not.
    if "://" not in args.url:
        raise CheckUsageError(
            f"--url {args.url!r} is not a URL: give https://host/path, "
            "e.g. https://mail.contoso.com/EWS/Exchange.asmx"
        )
    component = _component_of(args.url, args.component)
    try:
        target = parse_url(args.url, component)
    except ValueError as exc:
        raise CheckUsageError(f"--url {args.url!r}: {exc}") from None
    server: dict[str, Any] = {
        "name": args.server[0] if args.server else target.host.split(".")[0].upper(),
        "fqdn": target.host,
        "urls": {component.value: args.url},
    }
    if args.server_address:
        try:
            server["addresses"] = [str(ipaddress.ip_address(args.server_address))]
        except ValueError:
            raise CheckUsageError(
                f"--server-address {args.server_address!r} is not an IP address"
            ) from None
    data: dict[str, Any] = {
        "servers": [server],
        "trust": {"ca_files": args.ca_file, "system": True},
        "probe": {
            "timeout": f"{max(1.0, args.timeout - 5):g}s",
            "interval": f"{max(60.0, args.timeout * 2):g}s",
        },
    }
    if args.dns_server:
        try:
            parse_host_port(args.dns_server, 53)
        except ValueError as exc:
            raise CheckUsageError(f"--dns-server: {exc}") from None
        data["dns"] = {"nameservers": [args.dns_server]}
    return load_config_mapping(data, "<command line>")


def _on_alarm(_signum: int, _frame: FrameType | None) -> None:
    raise _Timeout


def _unknown(message: str) -> int:
    sys.stdout.write(f"{PREFIX} UNKNOWN - {nagios_safe(message)}\n")
    return UNKNOWN


def _matched_nothing(servers: list[str], components: list[str], known: dict[str, set[str]]) -> str:
    wanted = [f"--server {s}" for s in servers] + [f"--component {c}" for c in components]
    names = ", ".join(sorted(known, key=str.lower))
    parts = ", ".join(sorted(set().union(*known.values())))
    return (
        f"{' '.join(wanted)} matched no endpoint (servers known: {names}; "
        f"components known: {parts})"
    )


def run_check(argv: Sequence[str]) -> int:
    try:
        args = build_check_parser().parse_args(argv)
        if bool(args.config_file) == bool(args.url):
            raise CheckUsageError("give --config.file or --url (one of them)")
        if args.timeout <= 0:
            raise CheckUsageError("--timeout must be more than 0")
        warning: Range = parse_range(args.warning, bare_means_minimum=True)
        critical: Range = parse_range(args.critical, bare_means_minimum=True)
    except (CheckUsageError, ValueError) as exc:
        return _unknown(f"bad arguments: {exc} (see exchange-cert-exporter check --help)")
    signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, args.timeout)
    try:
        config = load_config(args.config_file) if args.config_file else _ad_hoc_config(args)
        for notice in config.notices:  # the plugin's output stays one status line
            print(f"warning: {terminal_safe(notice)}", file=sys.stderr)
        servers = {s.lower() for s in args.server} if args.config_file else set()
        components = set(args.component) if args.config_file else set()

        known: dict[str, set[str]] = {}  # server -> its components, as discovered

        def select(endpoint: Endpoint) -> bool:
            known.setdefault(endpoint.server.name, set()).add(endpoint.component.value)
            return (not servers or endpoint.server.name.lower() in servers) and (
                not components or endpoint.component.value in components
            )

        snapshot = run_cycle(config, select=select)
        signal.setitimer(signal.ITIMER_REAL, 0)
        if known and not snapshot.endpoints:
            return _unknown(_matched_nothing(args.server, args.component, known))
    except _Timeout:
        _unknown(f"timed out after {args.timeout:g} seconds")
        sys.stdout.flush()
        os._exit(UNKNOWN)  # probe threads may still be finishing; do not wait for them
    except ConfigError as exc:
        lines = exc.lines()
        more = f" (and {len(lines) - 1} more)" if len(lines) > 1 else ""
        return _unknown(f"config error: {lines[0]}{more}")
    except CheckUsageError as exc:
        return _unknown(f"bad arguments: {exc}")
    except Exception as exc:  # noqa: BLE001 - nagiosplugin's "guarded": never a traceback
        return _unknown(f"internal error: {type(exc).__name__}: {exc}")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    result = evaluate_check(snapshot, warning, critical, auth_ranges(config.thresholds))
    sys.stdout.write(render_check(result, args.verbose))
    return result.state.exit_code
