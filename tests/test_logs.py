"""Log lines keep what an operator needs: an exception's type and message in either
format (its traceback at debug), and control characters escaped, never raw."""

from __future__ import annotations

import io
import json
import logging

import pytest

from exporter.logs import JsonFormatter, LogfmtFormatter, setup_logging


def capture(fmt: str, level: str) -> tuple[logging.Logger, io.StringIO]:
    logger = setup_logging(level, fmt)
    stream = io.StringIO()
    handler = logger.handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream)
    return logger, stream


def fail(logger: logging.Logger) -> None:
    try:
        raise ValueError("the probe broke")
    except ValueError:
        logger.exception("refresh failed")


@pytest.mark.parametrize("fmt", ["logfmt", "json"])
def test_exception_carries_type_and_message(fmt: str) -> None:
    logger, stream = capture(fmt, "info")
    fail(logger)
    line = stream.getvalue().strip()
    assert "\n" not in line
    if fmt == "json":
        event = json.loads(line)
        assert event["error"] == "ValueError: the probe broke"
        assert "trace" not in event
    else:
        assert 'error="ValueError: the probe broke"' in line
        assert "trace=" not in line


@pytest.mark.parametrize("fmt", ["logfmt", "json"])
def test_exception_carries_the_traceback_at_debug(fmt: str) -> None:
    logger, stream = capture(fmt, "debug")
    fail(logger)
    line = stream.getvalue().strip()
    assert len(line.splitlines()) == 1  # one event, one line
    if fmt == "json":
        trace = json.loads(line)["trace"]
        assert trace.startswith("Traceback (most recent call last):")
        assert "in fail" in trace
    else:
        assert 'trace="Traceback (most recent call last):\\n' in line


def test_control_characters_are_escaped() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "endpoint problem", None, None)
    record.fields = {"subject": "CN=evil\x1b[31m\r\n\x00", "plain": "ok"}
    line = LogfmtFormatter().format(record)
    assert "\x1b" not in line
    assert "\r" not in line
    assert "\x00" not in line
    assert 'subject="CN=evil\\x1b[31m\\r\\n\\x00"' in line
    assert "plain=ok" in line
    event = json.loads(JsonFormatter().format(record))
    assert event["subject"] == "CN=evil\x1b[31m\r\n\x00"  # JSON escapes it itself
