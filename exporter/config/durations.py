"""Duration strings in config and on the command line (``800ms``, ``10s``, ``1h30m``, ``30d``).

Prometheus's units and their order (model.ParseDuration: ``y w d h m s ms``, each at
most once, largest first), so a value written for Prometheus reads the same here.
Two differences, both on purpose: a number may have a fraction (``1.5s``, as Go's
time.ParseDuration allows and Prometheus does not), and a bare ``0`` is refused
(write ``0s``) like every number without its unit.
"""

from __future__ import annotations

import re

_UNITS = {
    "y": 365 * 86400.0,
    "w": 7 * 86400.0,
    "d": 86400.0,
    "h": 3600.0,
    "m": 60.0,
    "s": 1.0,
    "ms": 0.001,
}
_ORDER = ["y", "w", "d", "h", "m", "s", "ms"]
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|y|w|d|h|m|s)")


def parse_duration(text: str) -> float:
    """Return seconds; raise ValueError naming the expected form."""
    value = text.strip()
    pos, total, last = 0, 0.0, -1
    while pos < len(value):
        match = _PART.match(value, pos)
        if match is None:
            break
        unit_rank = _ORDER.index(match.group(2))
        if unit_rank <= last:
            raise ValueError(f"{text!r}: units must go from largest to smallest, once each")
        last = unit_rank
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if not value or pos != len(value):
        raise ValueError(f"{text!r} is not a duration such as 800ms, 10s, 5m, 1h30m or 30d")
    return total


def format_duration(seconds: float) -> str:
    """The shortest exact rendering, for messages and generated files."""
    millis = round(seconds * 1000)
    if millis == 0:
        return "0s"
    out = []
    for unit in _ORDER:
        size = round(_UNITS[unit] * 1000)
        if millis >= size:
            count, millis = divmod(millis, size)
            out.append(f"{count}{unit}")
    return "".join(out)
