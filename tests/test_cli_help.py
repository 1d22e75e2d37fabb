"""Every command's ``--help`` as a user reads it (a subprocess): a description, and for
``report`` and ``check`` the exit codes, held to the codes the commands return."""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys

import pytest

from exporter.cli import REPORT_EXIT, build_parser
from exporter.cliparser import PREFLIGHT_EXIT_HELP
from exporter.evaluate.outcome import Status

COMMANDS = {
    # command: words its description must say
    "report": ("Probe every endpoint", "names the next certificate needs"),
    "serve": ("Prometheus exporter", "SIGHUP", "Exit 1 if it cannot listen"),
    "healthcheck": ("/-/healthy", "Exit 0 healthy, 1 unhealthy"),
    "demo": ("KB 940726", "loopback"),
    "check": ("Nagios/Icinga check", "Exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN"),
    "preflight": ("Judge CERT_FILE", "which URLs, servers and clients would break"),
}


def _help(*args: str) -> subprocess.CompletedProcess[str]:
    # A fixed width: argparse wraps to $COLUMNS.
    return subprocess.run(
        [sys.executable, "-m", "exporter", *args, "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "COLUMNS": "80"},
    )


def _description(text: str) -> str:
    """The paragraph between the usage and the options, on one line."""
    paragraphs = text.split("\n\n")
    assert paragraphs[0].startswith("usage: exchange-cert-exporter"), text
    assert paragraphs[2].startswith(("options:", "positional arguments:")), text
    return " ".join(paragraphs[1].split())


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_has_a_description(command: str) -> None:
    result = _help(command)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    description = _description(result.stdout)
    for words in COMMANDS[command]:
        assert words in description, description


def test_every_command_is_covered() -> None:
    (commands,) = [
        action
        for action in build_parser()._actions
        if isinstance(action, argparse._SubParsersAction)
    ]
    assert sorted(commands.choices) == sorted(COMMANDS)


REPORT_EXIT_CODES = """\
exit codes (the status of the worst endpoint):
  0    ok: every endpoint is ok
  1    warning: warnings, nothing critical or unknown
  2    critical or unknown: an endpoint is critical or could not be judged, or
       nothing was found to probe; also a bad config or bad arguments (one line
       each on stderr, nothing on stdout)
  70   an internal error (one line on stderr)
  130  interrupted (Ctrl-C)
"""


def test_report_help_lists_its_exit_codes() -> None:
    result = _help("report")
    assert result.returncode == 0
    assert result.stdout.endswith("\n\n" + REPORT_EXIT_CODES)


@pytest.mark.parametrize("status", list(Status))
def test_report_help_gives_each_status_the_code_report_returns(status: Status) -> None:
    """The help's table against REPORT_EXIT, the mapping ``report`` returns through
    (test_cli_report.py runs report to each code)."""
    codes = {
        int(code): meaning
        for code, meaning in re.findall(r"^  (\d+) +(\S[^:]*):", REPORT_EXIT_CODES, re.M)
    }
    assert status.value in codes[REPORT_EXIT[status]].split(" or ")
    others = [meaning for code, meaning in codes.items() if code != REPORT_EXIT[status]]
    assert all(status.value not in meaning.split(" or ") for meaning in others)


def test_check_help_lists_its_exit_codes() -> None:
    result = _help("check")
    assert result.returncode == 0
    description = _description(result.stdout)
    assert "Exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN." in description


def test_preflight_help_lists_its_exit_codes() -> None:
    """test_preflight.py runs preflight to 0, 1 and 2; the help says what each means."""
    result = _help("preflight")
    assert result.returncode == 0
    assert result.stdout.endswith("\n\n" + PREFLIGHT_EXIT_HELP)
    assert re.findall(r"^  (\d+) ", PREFLIGHT_EXIT_HELP, re.M) == ["0", "1", "2"]
