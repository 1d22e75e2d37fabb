"""Threshold ranges in the Monitoring Plugins syntax ``[@][start:][end]``
(https://www.monitoring-plugins.org/doc/guidelines.html#THRESHOLDFORMAT):

- ``10``     alert outside 0..10      ``10:``  alert below 10
- ``~:10``   alert above 10           ``10:20`` alert outside 10..20
- ``@10:20`` alert inside 10..20      ``~`` is negative infinity

For days to expiry a bare number means "alert below it", as check_ssl_cert
and every certificate check admins know (``-w 30 -c 7``); write ``0:30`` for the
literal guideline meaning.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)"
_RANGE = re.compile(rf"^(@)?(?:(~|{_NUMBER})?:)?({_NUMBER})?$")


@dataclass(frozen=True)
class Range:
    start: float
    end: float
    inside: bool  # "@": alert when the value lies inside [start, end]
    text: str

    def alerts(self, value: float) -> bool:
        within = self.start <= value <= self.end
        return within if self.inside else not within

    def __str__(self) -> str:
        return self.text


def parse_range(text: str, *, bare_means_minimum: bool = False) -> Range:
    """Parse a range (ValueError names the text); ``bare_means_minimum``: ``30`` is ``30:``."""
    value = text.strip()
    if bare_means_minimum and re.fullmatch(_NUMBER, value):
        value = f"{value}:"
    match = _RANGE.match(value)
    if not value or match is None or value in ("@", ":", "@:"):
        raise ValueError(f"{text!r} is not a range ([@][start:][end], e.g. 30: or 7)")
    inside, start_text, end_text = match.groups()
    has_colon = ":" in value
    if start_text == "~":
        start = -math.inf
    elif start_text is not None:
        start = float(start_text)
    else:
        start = 0.0
    end = float(end_text) if end_text is not None else math.inf
    if not has_colon and end_text is None:
        raise ValueError(f"{text!r} is not a range ([@][start:][end], e.g. 30: or 7)")
    if start > end:
        raise ValueError(f"{text!r}: start is greater than end")
    return Range(start, end, bool(inside), value)
