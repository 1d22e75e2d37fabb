"""Issue #26 item 4: a failed reload shows where people look. `serve` as users run
it: a typo, then `POST /-/reload` or SIGHUP; the page's banner and the status
JSON's ``reload`` say what failed (file, line, key) and since when, while the last
good config keeps being served; a good reload clears both."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable
from typing import Any

import yaml

from tests.conftest import run_exporter
from tests.test_serve import samples, value


def _status(exporter: Any) -> dict[str, Any]:
    code, body, _ = exporter.get("/api/v1/status")
    assert code == 200
    return json.loads(body)


def _line_of(path: Any, text: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def _wait_for(exporter: Any, done: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """The status JSON's ``reload`` once ``done`` says so (SIGHUP reloads in a thread)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        reload = _status(exporter)["reload"]
        if done(reload):
            return reload
        time.sleep(0.1)
    raise AssertionError(f"no such reload after SIGHUP: {reload}")


def test_a_failed_reload_shows_on_the_page_and_in_the_status_json(kb_lab, start_exporter) -> None:
    path, _, data = kb_lab
    exporter = start_exporter(path)
    # Control: nothing failed, nothing shown.
    reload = _status(exporter)["reload"]
    assert reload["ok"] is True
    assert reload["file"] == str(path)
    assert reload["failing_since"] is None
    assert reload["last_attempt"] is None
    assert reload["problems"] == []
    assert reload["error"] is None
    assert 'id="reload-failed"' not in exporter.get("/")[1]
    loaded_at = reload["loaded_at"]

    # A typo, then POST /-/reload.
    time.sleep(1.1)  # the timestamps are whole seconds: let them tell start from failure
    broken = {**data, "servers": [dict(data["servers"][0]), {**data["servers"][1], "verison": 1}]}
    path.write_text(yaml.safe_dump(broken, sort_keys=False))
    line = _line_of(path, "verison:")
    code, body, _ = exporter.get("/-/reload", method="POST")
    assert code == 500
    where = f"{path}:{line}: servers[1].verison: unknown key"
    assert body.startswith(where)
    status = _status(exporter)
    reload = status["reload"]
    assert reload["ok"] is False
    assert reload["loaded_at"] == loaded_at  # the old config is still the one in force
    assert reload["failing_since"] == reload["last_attempt"]
    assert reload["failing_since"] > loaded_at
    (problem,) = reload["problems"]
    assert problem["line"] == line
    assert problem["key"] == "servers[1].verison"
    assert problem["message"].startswith("unknown key")
    assert reload["error"].startswith(where)
    assert len(status["endpoints"]) == 4  # the last good config is still probed
    page = exporter.get("/")[1]
    assert 'id="reload-failed"' in page
    assert "CONFIG RELOAD FAILED" in page
    assert f"since {reload['failing_since']}" in page
    assert where in page
    metrics = samples(exporter.get("/metrics")[1])
    assert value(metrics, "exchange_exporter_config_last_reload_successful") == 0

    # Another typo, by SIGHUP: the new problem shows, the failure's start stays.
    since = reload["failing_since"]
    time.sleep(1.1)
    path.write_text(path.read_text().replace("verison:", "versoin:"))
    exporter.process.send_signal(signal.SIGHUP)
    reload = _wait_for(exporter, lambda r: "versoin" in (r["error"] or ""))
    assert reload["ok"] is False
    assert reload["failing_since"] == since
    assert reload["last_attempt"] > since
    assert [p["key"] for p in reload["problems"]] == ["servers[1].versoin"]
    assert "servers[1].versoin" in exporter.get("/")[1]

    # Fixed, by SIGHUP: the banner and the problems go, the new config is in force.
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    exporter.process.send_signal(signal.SIGHUP)
    reload = _wait_for(exporter, lambda r: r["ok"])
    assert reload["ok"] is True
    assert reload["failing_since"] is None
    assert reload["problems"] == []
    assert reload["error"] is None
    assert reload["loaded_at"] == reload["last_attempt"]
    assert 'id="reload-failed"' not in exporter.get("/")[1]
    metrics = samples(exporter.get("/metrics")[1])
    assert value(metrics, "exchange_exporter_config_last_reload_successful") == 1


def test_report_json_has_no_reload(kb_lab) -> None:
    """``report`` loads its config once: ``reload`` is null there (a bad file is exit 2)."""
    path, _, _ = kb_lab
    done = run_exporter("report", "--config.file", str(path), "--format", "json")
    assert done.returncode == 2, done.stderr  # EXCH01's mismatch is critical
    assert json.loads(done.stdout)["reload"] is None
