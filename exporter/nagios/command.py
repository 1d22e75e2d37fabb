"""``exchange-cert-exporter check``: argument handling, the global timeout, and exit
codes per the Monitoring Plugins guidelines: 0 OK, 1 WARNING, 2 CRITICAL,
3 UNKNOWN, and UNKNOWN (one line, no traceback) for bad arguments, a bad config,
nothing to check, or the global timeout.

The global timeout (``-t``) is the plugin's own: when it ends a run, nothing was
learned about the servers, so it is UNKNOWN (nagiosplugin's and Icinga's practice)
unless ``-t SECONDS:STATE`` or ``--timeout-result`` asks for another state. It never
shortens ``probe.timeout``: a server that does not answer within that is CRITICAL
(``timeout``), found by the probe when ``-t`` leaves room for it, and the plugin's
message says when it did not. Those lines quote what they were given
(a URL, a config value, a server name from the directory, an exception's text), so
they pass ``nagios_safe`` like the check's own output; the config's notices on
stderr pass ``terminal_safe``.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Sequence
from types import FrameType
from typing import NoReturn

from exporter.config import ConfigError, load_config
from exporter.evaluate.outcome import Status
from exporter.model import Component, Endpoint
from exporter.nagios.adhoc import CheckUsageError, ad_hoc_config
from exporter.nagios.check import PREFIX, auth_ranges, evaluate_check, render_check
from exporter.nagios.ranges import Range, parse_range, parse_timeout
from exporter.pipeline import run_cycle
from exporter.textsafe import nagios_safe, terminal_safe


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
        default="60",
        metavar="SECONDS[:STATE]",
        help="the plugin's own timeout: end the run after this long with UNKNOWN, or STATE "
        "(ok, warning, critical, unknown or 0-3); default 60. probe.timeout (10s with --url) "
        "is not shortened to fit",
    )
    parser.add_argument(
        "--timeout-result",
        metavar="STATE",
        help="the state when -t ends the run (as -t SECONDS:STATE); default unknown",
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


def _on_alarm(_signum: int, _frame: FrameType | None) -> None:
    raise _Timeout


def _unknown(message: str, state: Status = Status.UNKNOWN) -> int:
    sys.stdout.write(f"{PREFIX} {state.value.upper()} - {nagios_safe(message)}\n")
    return state.exit_code


def _timed_out(seconds: float, probe_timeout: float | None) -> str:
    message = f"plugin timeout: the check did not end within -t {seconds:g}s"
    if probe_timeout is not None and probe_timeout >= seconds:
        message += (
            "; a server that never answers is reported only when -t is longer than "
            f"probe.timeout ({probe_timeout:g}s)"
        )
    return message


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
        seconds, on_timeout = parse_timeout(args.timeout, args.timeout_result)
        warning: Range = parse_range(args.warning, bare_means_minimum=True)
        critical: Range = parse_range(args.critical, bare_means_minimum=True)
    except (CheckUsageError, ValueError) as exc:
        return _unknown(f"bad arguments: {exc} (see exchange-cert-exporter check --help)")
    probe_timeout: float | None = None
    signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        config = load_config(args.config_file) if args.config_file else ad_hoc_config(args)
        probe_timeout = config.probe.timeout
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
        _unknown(_timed_out(seconds, probe_timeout), on_timeout)
        sys.stdout.flush()
        os._exit(on_timeout.exit_code)  # probe threads may still be finishing; do not wait
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
