"""Line-aware YAML loading and a strict reader that collects every problem at once.

blackbox_exporter and prometheus-pve-exporter decode config strictly and report
all problems together; this module is that mechanism, shared by every config
section (see schema.py). A problem names the file, the line, and the key path.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import yaml

from exporter.config.durations import parse_duration

T = TypeVar("T")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a config file: where, and what."""

    path: str
    message: str
    line: int | None = None
    notice: bool = False  # a deprecation: reported, never fatal

    def render(self, filename: str) -> str:
        where = f"{filename}:{self.line}" if self.line else filename
        return f"{where}: {self.path or '(top level)'}: {self.message}"


class ConfigError(Exception):
    """Raised once, after reading the whole file, with every problem found."""

    def __init__(self, filename: str, problems: list[Problem]) -> None:
        self.filename = filename
        self.problems = problems
        super().__init__("\n".join(p.render(filename) for p in problems))

    def lines(self) -> list[str]:
        return [p.render(self.filename) for p in self.problems]


class MarkedDict(dict[str, Any]):
    """A YAML mapping that remembers the line of each key (1-based)."""

    line: int = 0
    key_lines: dict[str, int]


class MarkedList(list[Any]):
    """A YAML sequence that remembers the line of each item (1-based)."""

    line: int = 0
    item_lines: list[int]


class _Loader(yaml.SafeLoader):
    duplicate_keys: list[tuple[str, int]]


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> MarkedDict:
    loader.flatten_mapping(node)
    result = MarkedDict()
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        key = str(key)
        if key in result:
            loader.duplicate_keys.append((key, key_node.start_mark.line + 1))
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = key_node.start_mark.line + 1
    return result


def _construct_sequence(loader: _Loader, node: yaml.SequenceNode) -> MarkedList:
    result = MarkedList(loader.construct_object(child, deep=True) for child in node.value)
    result.line = node.start_mark.line + 1
    result.item_lines = [child.start_mark.line + 1 for child in node.value]
    return result


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


def load_yaml(text: str, filename: str, problems: list[Problem] | None = None) -> MarkedDict:
    """Parse YAML text into marked containers; a syntax error is a ConfigError. A key
    that appears twice is a problem too: appended to ``problems`` when given, so the
    caller reports it with everything else it finds, else raised at once."""
    loader = _Loader(text)
    loader.duplicate_keys = []
    try:
        data: Any = loader.get_single_data()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        reason = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(filename, [Problem("", f"not valid YAML: {reason}", line)]) from None
    finally:
        loader.dispose()
    twice = [Problem(key, "key appears twice", line) for key, line in loader.duplicate_keys]
    if data is None:
        data = MarkedDict()
        data.line, data.key_lines = 1, {}
    if not isinstance(data, MarkedDict):
        shape = Problem("", "the file must be a mapping of sections (servers:, ...)", 1)
        raise ConfigError(filename, [*twice, shape])
    if twice and problems is None:
        raise ConfigError(filename, twice)
    if problems is not None:
        problems.extend(twice)
    marked: MarkedDict = data
    return marked


class Reader:
    """Reads one mapping strictly: typed getters record problems instead of raising.

    Every getter returns a usable default after recording a problem, so one pass
    over the file finds everything; ``finish()`` flags keys nobody asked for.
    """

    def __init__(self, problems: list[Problem], path: str, data: Any, line: int | None) -> None:
        self.problems = problems
        self.path = path
        self.line = line
        self._seen: set[str] = set()
        if data is None:
            data = MarkedDict()
            data.line, data.key_lines = line or 0, {}
        if not isinstance(data, dict):
            self.problem("", f"expected a mapping, got {_kind(data)}")
            data = MarkedDict()
            data.line, data.key_lines = line or 0, {}
        self.data: dict[str, Any] = data

    def key_path(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def line_of(self, key: str) -> int | None:
        """The line of ``key``, or of item ``i`` for ``key[i]``; else this mapping's line."""
        base, _, index = key.partition("[")
        lines = getattr(self.data, "key_lines", {})
        if index:
            items = getattr(self.data.get(base), "item_lines", [])
            position = int(index.rstrip("]"))
            if position < len(items):
                return int(items[position])
        return lines.get(base, self.line)

    def problem(self, key: str, message: str) -> None:
        path = self.key_path(key) if key else self.path
        self.problems.append(Problem(path, message, self.line_of(key) if key else self.line))

    def notice(self, key: str, message: str) -> None:
        """A key that still works but should go (a deprecation): reported, not fatal."""
        path = self.key_path(key) if key else self.path
        line = self.line_of(key) if key else self.line
        self.problems.append(Problem(path, message, line, notice=True))

    def has(self, key: str) -> bool:
        return key in self.data and self.data[key] is not None

    def raw(self, key: str) -> Any:
        self._seen.add(key)
        return self.data.get(key)

    def get(
        self, key: str, convert: Callable[[Any], T], default: T, *, required: bool = False
    ) -> T:
        """The converted value, or ``default`` after recording a problem."""
        value = self.raw(key)
        if value is None:
            if required:
                self.problem(key, "is required")
            return default
        try:
            return convert(value)
        except (TypeError, ValueError) as exc:
            self.problem(key, str(exc))
            return default

    def text(self, key: str, default: str = "", *, required: bool = False) -> str:
        return self.get(key, as_str, default, required=required)

    def opt_text(self, key: str) -> str | None:
        return self.get(key, as_str, None)

    def flag(self, key: str, default: bool) -> bool:
        return self.get(key, as_bool, default)

    def duration(self, key: str, default: float) -> float:
        return self.get(key, as_duration, default)

    def integer(self, key: str, default: int, *, minimum: int = 0) -> int:
        def convert(value: Any) -> int:
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"expected a whole number, got {_kind(value)}")
            if value < minimum:
                raise ValueError(f"must be at least {minimum}, got {value}")
            return value

        return self.get(key, convert, default)

    def _list(self, key: str) -> list[Any]:
        """The list under ``key``; [] (after recording a problem) for anything else."""
        value = self.raw(key)
        if value is None:
            return []
        if not isinstance(value, list):
            self.problem(key, f"expected a list, got {_kind(value)}")
            return []
        return value

    def str_list(self, key: str) -> list[str]:
        value = self._list(key)
        out = []
        for index, item in enumerate(value):
            if isinstance(item, (str, int, float)) and not isinstance(item, bool):
                out.append(str(item))
            else:
                self.problem(f"{key}[{index}]", f"expected a string, got {_kind(item)}")
        return out

    def section(self, key: str) -> Reader:
        return Reader(self.problems, self.key_path(key), self.raw(key), self.line_of(key))

    def section_list(self, key: str) -> list[Reader]:
        value = self._list(key)
        lines = getattr(value, "item_lines", [self.line_of(key)] * len(value))
        return [
            Reader(self.problems, f"{self.key_path(key)}[{i}]", item, lines[i])
            for i, item in enumerate(value)
        ]

    def finish(self, allowed: tuple[str, ...] | None = None) -> None:
        """Record every key that is not part of the schema."""
        known = set(allowed) if allowed is not None else self._seen
        for key in self.data:
            if key not in known:
                expected = ", ".join(sorted(known)) or "nothing"
                self.problem(key, f"unknown key (expected one of: {expected})")


def as_str(value: Any) -> str:
    if isinstance(value, (bool, dict, list)):
        raise ValueError(f"expected a string, got {_kind(value)}")
    return str(value)


def as_bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {_kind(value)}")
    return value


def as_duration(value: Any) -> float:
    if not isinstance(value, str):
        raise ValueError(f"expected a duration such as 800ms, 10s, 5m or 30d, got {_kind(value)}")
    return parse_duration(value)


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return f"{str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    return f"{type(value).__name__} {value!r}"
