"""Configuration: strict YAML in, a typed :class:`Config` out (pipeline stage 0).

``load_config(path)`` raises :class:`ConfigError` carrying every problem in the file.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

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
    config = parse_config(Reader(problems, "", data, data.line))
    errors = [p for p in problems if not p.notice]
    if errors:
        raise ConfigError(filename, errors)
    notices = tuple(p.render(filename) for p in problems if p.notice)
    return dataclasses.replace(config, filename=filename, notices=notices)
