"""The classic text exposition format for our gauge families, written directly.

Our families are gauges with constant, valid names, so this writer checks each
metric and label name once per process and escapes only the label values and the
help text, as prometheus_client does (backslash, newline, double quote; values
through its own ``floatToGoString``). tests/test_textformat.py holds it to
byte-for-byte the output of ``generate_latest`` for the same families; why it
exists instead of ``generate_latest``: benchmarks/README.md, "Design history".
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from prometheus_client.core import Metric
from prometheus_client.utils import floatToGoString

_METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_checked: set[str] = set()  # names already found valid


def text_format(families: Iterable[Metric]) -> bytes:
    """The families as the text format; ValueError for what this writer does not
    cover (a type other than gauge, a name the classic format cannot carry)."""
    out: list[str] = []
    for family in families:
        name = family.name
        if family.type != "gauge":
            raise ValueError(f"{name}: only gauges are written here, not {family.type}")
        _valid(name, _METRIC_NAME)
        doc = family.documentation.replace("\\", r"\\").replace("\n", r"\n")
        out.append(f"# HELP {name} {doc}\n# TYPE {name} gauge\n")
        for sample in family.samples:
            value = floatToGoString(sample.value)  # type: ignore[no-untyped-call]
            stamp = "" if sample.timestamp is None else f" {int(float(sample.timestamp) * 1000):d}"
            if not sample.labels:
                out.append(f"{sample.name} {value}{stamp}\n")
                continue
            pairs = []
            for key, text in sorted(sample.labels.items()):
                if key not in _checked:
                    _valid(key, _LABEL_NAME)
                escaped = text.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")
                pairs.append(f'{key}="{escaped}"')
            out.append(f"{sample.name}{{{','.join(pairs)}}} {value}{stamp}\n")
    return "".join(out).encode("utf-8")


def _valid(name: str, pattern: re.Pattern[str]) -> None:
    if name in _checked:
        return
    if not pattern.match(name):
        raise ValueError(f"{name!r} is not a name the classic text format can carry")
    _checked.add(name)
