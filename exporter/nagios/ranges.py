"""Threshold ranges in the Monitoring Plugins syntax ``[@][start:][end]``
(https://www.monitoring-plugins.org/doc/guidelines.html#THRESHOLDFORMAT):

- ``10``     alert outside 0..10      ``10:``  alert below 10
- ``~:10``   alert above 10           ``10:20`` alert outside 10..20
- ``@10:20`` alert inside 10..20      ``~`` is negative infinity

For days to expiry a bare number means "alert below it", as check_ssl_cert
and every certificate check admins know (``-w 30 -c 7``); write ``0:30`` for the
literal guideline meaning.

And the plugin's timeout, ``-t SECONDS[:STATE]`` as nagios-plugins' network plugins
take it (``-t 10:critical``), its state by name in any case or by exit code, as
monitoring-plugins' ``mp_translate_state`` reads ``--timeout-result``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from exporter.evaluate.outcome import Status

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


_STATES = {
    **{status.value: status for status in Status},
    **{str(status.exit_code): status for status in Status},
}


def parse_state(text: str) -> Status:
    """A plugin state: ``ok``, ``warning``, ``critical``, ``unknown`` (any case) or
    its exit code, 0 to 3 (ValueError names the text)."""
    state = _STATES.get(text.strip().lower())
    if state is None:
        raise ValueError(f"{text!r} is not a state (ok, warning, critical, unknown or 0-3)")
    return state


def parse_timeout(text: str, result: str | None = None) -> tuple[float, Status]:
    """``-t SECONDS[:STATE]`` and ``--timeout-result STATE``, at most one of them with
    a state: the seconds, and the state a run the timeout ends has (UNKNOWN unless
    given). ValueError names what is wrong."""
    message = f"-t {text!r} is not SECONDS[:STATE] (e.g. 60, or 10:critical)"
    seconds, colon, state = text.strip().partition(":")
    try:
        value = float(seconds)
        chosen = parse_state(state) if colon else None
    except ValueError:
        raise ValueError(message) from None
    if not math.isfinite(value):
        raise ValueError(message)
    if value <= 0:
        raise ValueError("--timeout must be more than 0")
    if result is not None:
        if chosen is not None:
            raise ValueError("give -t SECONDS:STATE or --timeout-result, not both")
        try:
            chosen = parse_state(result)
        except ValueError as exc:
            raise ValueError(f"--timeout-result {exc}") from None
    return value, chosen or Status.UNKNOWN
