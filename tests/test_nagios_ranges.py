"""The Monitoring Plugins range grammar, exhaustively (nagiosplugin tests it so too), and
the plugin timeout's ``-t SECONDS[:STATE]`` and ``--timeout-result STATE``."""

from __future__ import annotations

import math
import re

import pytest

from exporter.evaluate.outcome import Status
from exporter.nagios.ranges import parse_range, parse_state, parse_timeout

# (range, value, alerts?) straight from the guidelines' table, plus the edges.
CASES = [
    ("10", -1, True),
    ("10", 0, False),
    ("10", 10, False),
    ("10", 10.1, True),
    ("10:", 9.9, True),
    ("10:", 10, False),
    ("10:", 1e9, False),
    ("~:10", -1e9, False),
    ("~:10", 10, False),
    ("~:10", 10.5, True),
    ("10:20", 9, True),
    ("10:20", 10, False),
    ("10:20", 20, False),
    ("10:20", 21, True),
    ("@10:20", 9, False),
    ("@10:20", 10, True),
    ("@10:20", 15, True),
    ("@10:20", 20, True),
    ("@10:20", 21, False),
    ("-5:5", -6, True),
    ("-5:5", 0, False),
    ("0.5:1.5", 1.0, False),
    ("0.5:1.5", 0.4, True),
    ("@~:0", -1, True),
    ("@~:0", 1, False),
    ("@5", 3, True),
    ("@5", 6, False),
]


@pytest.mark.parametrize(("text", "value", "alerts"), CASES)
def test_guideline_ranges(text: str, value: float, alerts: bool) -> None:
    assert parse_range(text).alerts(value) is alerts


@pytest.mark.parametrize(
    ("text", "start", "end", "inside"),
    [
        ("10", 0, 10, False),
        ("10:", 10, math.inf, False),
        ("~:10", -math.inf, 10, False),
        ("@1:2", 1, 2, True),
        (":5", 0, 5, False),
    ],
)
def test_parsed_bounds(text, start, end, inside) -> None:
    r = parse_range(text)
    assert (r.start, r.end, r.inside) == (start, end, inside)


@pytest.mark.parametrize(
    ("text", "value", "alerts"),
    [
        ("30", 29.9, True),
        ("30", 30, False),
        ("30", 400, False),
        ("7", 6, True),
        ("0:30", 40, True),  # the literal guideline form is still available
    ],
)
def test_bare_number_means_minimum_days(text, value, alerts) -> None:
    assert parse_range(text, bare_means_minimum=True).alerts(value) is alerts


@pytest.mark.parametrize(
    "text", ["", "abc", "@", ":", "10:5", "1:2:3", "~", "10d", "--5", "@:", "5:~"]
)
def test_bad_ranges(text: str) -> None:
    with pytest.raises(ValueError, match=r"range|greater"):
        parse_range(text)


@pytest.mark.parametrize(
    ("text", "result", "seconds", "state"),
    [
        ("60", None, 60, Status.UNKNOWN),  # the plugin's own timeout: UNKNOWN by default
        ("2.5", None, 2.5, Status.UNKNOWN),
        ("10:critical", None, 10, Status.CRITICAL),  # nagios-plugins' -t INTEGER:STATE
        ("10:CRITICAL", None, 10, Status.CRITICAL),
        ("10:1", None, 10, Status.WARNING),
        ("10:0", None, 10, Status.OK),
        ("10:Unknown", None, 10, Status.UNKNOWN),
        ("10", "critical", 10, Status.CRITICAL),  # monitoring-plugins' --timeout-result
        ("10", "2", 10, Status.CRITICAL),
        (" 10 ", " warning ", 10, Status.WARNING),
    ],
)
def test_timeouts(text: str, result: str | None, seconds: float, state: Status) -> None:
    assert parse_timeout(text, result) == (seconds, state)


@pytest.mark.parametrize(
    ("text", "result", "message"),
    [
        ("", None, "is not SECONDS[:STATE]"),
        ("soon", None, "is not SECONDS[:STATE]"),
        ("10:", None, "is not SECONDS[:STATE]"),
        ("10:maybe", None, "is not SECONDS[:STATE]"),
        ("10:4", None, "is not SECONDS[:STATE]"),
        (":critical", None, "is not SECONDS[:STATE]"),
        ("nan", None, "is not SECONDS[:STATE]"),
        ("inf", None, "is not SECONDS[:STATE]"),
        ("10:critical:x", None, "is not SECONDS[:STATE]"),
        ("0", None, "must be more than 0"),
        ("-1:ok", None, "must be more than 0"),
        ("10", "4", "--timeout-result '4' is not a state"),
        ("10", "", "--timeout-result '' is not a state"),
        ("10:ok", "critical", "not both"),
    ],
)
def test_bad_timeouts(text: str, result: str | None, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_timeout(text, result)


@pytest.mark.parametrize(
    ("texts", "state"),
    [
        (("ok", "OK", "0"), Status.OK),
        (("warning", "Warning", "1"), Status.WARNING),
        (("critical", "CRITICAL", "2"), Status.CRITICAL),
        (("unknown", "UNKNOWN", "3"), Status.UNKNOWN),
    ],
)
def test_every_state_by_name_or_exit_code(texts: tuple[str, ...], state: Status) -> None:
    assert {parse_state(text) for text in texts} == {state}
    assert str(state.exit_code) in texts
