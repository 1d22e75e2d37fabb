"""Configuration: strict YAML in, a typed :class:`Config` out (pipeline stage 0).

``load_config(path)`` raises :class:`ConfigError` carrying every problem in the file.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from exporter.config.schema import (
    Config,
    DnsConfig,
    ProbeConfig,
    ServerConfig,
    Thresholds,
    TrustConfig,
    parse_config,
    parse_host_port,
)
from exporter.config.yamlsource import ConfigError, Problem, Reader, load_yaml

__all__ = [
    "Config",
    "ConfigError",
    "DnsConfig",
    "ProbeConfig",
    "ServerConfig",
    "Thresholds",
    "TrustConfig",
    "load_config",
    "load_config_mapping",
    "load_config_text",
    "parse_host_port",
]


def load_config(path: str) -> Config:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(path, [Problem("", f"cannot read: {exc.strerror or exc}")]) from None
    except UnicodeDecodeError:
        raise ConfigError(path, [Problem("", "is not UTF-8 text")]) from None
    return load_config_text(text, path)


def load_config_text(text: str, filename: str) -> Config:
    problems: list[Problem] = []  # keys that appear twice, then every other problem
    data = load_yaml(text, filename, problems)
    return _parse(Reader(problems, "", data, data.line), filename)


def load_config_mapping(data: Mapping[str, Any], origin: str) -> Config:
    """A config from plain Python data (the Nagios command's flags), read with the
    same strict rules as a file; problems name ``origin`` without a line."""
    return _parse(Reader([], "", dict(data), None), origin)


def _parse(root: Reader, filename: str) -> Config:
    problems = root.problems
    config = parse_config(root)
    errors = [p for p in problems if not p.notice]
    if errors:
        raise ConfigError(filename, errors)
    notices = tuple(p.render(filename) for p in problems if p.notice)
    return dataclasses.replace(config, filename=filename, notices=notices)
