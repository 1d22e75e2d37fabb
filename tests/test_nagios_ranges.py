"""The Monitoring Plugins range grammar, exhaustively (nagiosplugin tests it so too)."""

from __future__ import annotations

import math

import pytest

from exporter.nagios.ranges import parse_range

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
