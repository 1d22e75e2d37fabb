"""Logging for service mode: logfmt (the Prometheus exporters' default) or JSON, one
event per line, fields passed as ``extra={"fields": {...}}``."""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
import traceback
from typing import Any

LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "error": logging.ERROR,
}
LOGGER_NAME = "exchange_cert_exporter"


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    base: dict[str, Any] = {
        "ts": dt.datetime.fromtimestamp(record.created, dt.UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z"),
        "level": {"WARNING": "warn"}.get(record.levelname, record.levelname.lower()),
        "msg": record.getMessage(),
    }
    base.update(getattr(record, "fields", {}) or {})
    if record.exc_info and record.exc_info[1] is not None:
        # logger.exception(): the type and message always, the traceback at debug.
        kind, exc, tb = record.exc_info
        base["error"] = f"{kind.__name__ if kind else 'Exception'}: {exc}"
        if logging.getLogger(record.name).isEnabledFor(logging.DEBUG):
            base["trace"] = "".join(traceback.format_exception(kind, exc, tb)).strip()
    return base


_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(char: str) -> str:
    """A character as logfmt may carry it: control characters (a terminal escape in a
    certificate name, say) become visible escapes, never raw bytes in the log."""
    if char in _ESCAPES:
        return _ESCAPES[char]
    if not char.isprintable():
        return f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"
    return char


def _logfmt_value(value: Any) -> str:
    text = str(value)
    if text and not any(c in text for c in ' "=\\') and text.isprintable():
        return text
    return '"' + "".join(_escape(c) for c in text) + '"'


class LogfmtFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return " ".join(f"{k}={_logfmt_value(v)}" for k, v in _fields(record).items())


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(_fields(record), default=str)


def setup_logging(level: str, fmt: str) -> logging.Logger:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else LogfmtFormatter())
    logger = logging.getLogger(LOGGER_NAME)
    logger.handlers[:] = [handler]
    logger.setLevel(LEVELS[level])
    logger.propagate = False
    return logger
