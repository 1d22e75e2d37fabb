"""The background refresh loop: runs the pipeline every ``probe.interval`` and swaps
the Snapshot reference; scrapes and page views read whatever is current and never
wait for a probe. Reloads swap the Config the same way: an invalid new config is
reported and the old one stays in force, and its problems and since when are
kept (``reload_status``) for the page and the status JSON.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable

from exporter.config import Config, ConfigError, load_config
from exporter.config.reloadstatus import ReloadStatus
from exporter.discovery.sources import Discoverer
from exporter.evaluate.outcome import Status
from exporter.pipeline import World, run_cycle
from exporter.service.collector import ExporterState, Exposition, render_snapshot
from exporter.snapshot import Snapshot


class Refresher:
    """Owns the current Config and Snapshot; one background thread updates them."""

    def __init__(
        self,
        config_path: str,
        config: Config,
        logger: logging.Logger,
        world: World | None = None,
        cycle: Callable[[Config, World, Discoverer], Snapshot] = run_cycle,
    ) -> None:
        self.config_path = config_path
        self._config = config
        self._logger = logger
        self._world = world or World()
        self._cycle = cycle
        # One discoverer across cycles: it keeps the last good directory inventory.
        self._discoverer = Discoverer(config)
        self._snapshot: Snapshot | None = None
        # The last logged state of each discovery source and of the internal DNS
        # (None: fine), so a failure is logged once when it starts and once when it ends.
        self._health: dict[str, str | None] = {}
        self._exposition = Exposition()
        self._reload = ReloadStatus(config_path, dt.datetime.now(dt.UTC))
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self.ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="refresher", daemon=True)

    @property
    def config(self) -> Config:
        with self._lock:
            return self._config

    @property
    def snapshot(self) -> Snapshot | None:
        with self._lock:
            return self._snapshot

    @property
    def exposition(self) -> Exposition:
        """The current snapshot's metrics, already rendered."""
        with self._lock:
            return self._exposition

    @property
    def reload_status(self) -> ReloadStatus:
        """The last reload's outcome: what the page's banner and the status JSON show."""
        with self._lock:
            return self._reload

    def state(self) -> ExporterState:
        with self._lock:
            return ExporterState(
                self._reload.ok,
                self._reload.loaded_at.timestamp(),
                self._config.probe.interval,
            )

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)

    def reload(self) -> tuple[bool, str]:
        """Load the config file again; keep the old config when the new one is invalid.
        POST /-/reload and SIGHUP both come here, so both show on the page and in JSON."""
        try:
            config = load_config(self.config_path)
        except ConfigError as exc:
            with self._lock:
                self._reload = self._reload.failed(exc, dt.datetime.now(dt.UTC))
            for line in exc.lines():
                self._logger.error(
                    "config reload failed, keeping the previous config",
                    extra={"fields": {"problem": line}},
                )
            return False, "\n".join(exc.lines())
        with self._lock:
            self._config = config
            self._discoverer = self._discoverer.with_config(config)
            self._reload = self._reload.succeeded(dt.datetime.now(dt.UTC))
        self._logger.info("config reloaded", extra={"fields": {"file": self.config_path}})
        for notice in config.notices:
            self._logger.warning("deprecated config key", extra={"fields": {"notice": notice}})
        self._wake.set()  # probe the new inventory now, not at the next interval
        return True, "config reloaded"

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            self._refresh_once()
            interval = self.config.probe.interval
            self._wake.wait(max(0.0, interval - (time.monotonic() - started)))
            self._wake.clear()

    def _refresh_once(self) -> None:
        with self._lock:
            config, discoverer = self._config, self._discoverer
        try:
            snapshot = self._cycle(config, self._world, discoverer)
        except Exception:  # the pipeline returns errors as data; this is the last net
            self._logger.exception("refresh failed")
            return
        exposition = render_snapshot(snapshot)  # here, not in a scrape
        with self._lock:
            self._snapshot, self._exposition = snapshot, exposition
        self.ready.set()
        self._log_health(snapshot)
        counts = {status.value: n for status, n in snapshot.counts.items()}
        self._logger.info(
            "refresh complete",
            extra={
                "fields": {
                    "endpoints": len(snapshot.endpoints),
                    **counts,
                    "duration_seconds": round(snapshot.duration, 3),
                }
            },
        )
        if not self._logger.isEnabledFor(logging.DEBUG):
            return  # the per-endpoint lines are debug only: do not build them
        for report in snapshot.endpoints:
            if report.status is not Status.OK:
                endpoint = report.verdict.probe.endpoint
                reasons = ",".join(
                    o.reason.value
                    for _name, o in report.verdict.outcomes
                    if o.reason is not None and o.noteworthy
                )
                fields = {
                    "server": endpoint.server.name,
                    "component": endpoint.component.value,
                    "url": endpoint.url,
                    "status": report.status.value,
                    "reasons": reasons,
                }
                if report.verdict.probe.internal_trace:
                    fields["trace"] = report.verdict.probe.internal_trace
                self._logger.debug("endpoint problem", extra={"fields": fields})

    def _log_health(self, snapshot: Snapshot) -> None:
        """Discovery and DNS failures, each logged when its state changes: a warning
        (an error when no inventory is left to probe), and an info line on recovery."""
        for status in snapshot.discovery:
            reason = None if status.success else (status.reason or "failed")
            fields: dict[str, object] = {"source": status.source}
            if reason is not None:
                fields.update(reason=reason, error=status.error or "", stale=status.stale)
            self._changed(
                f"discovery:{status.source}",
                reason,
                "discovery failing" if reason else "discovery recovered",
                fields,
                logging.ERROR if not snapshot.endpoints else logging.WARNING,
            )
        dns = snapshot.dns
        self._changed(
            "dns",
            "unanswered" if dns.message else None,
            "internal DNS not answering" if dns.message else "internal DNS answering again",
            {
                "nameservers": ",".join(dns.nameservers),
                **({"unanswered": dns.unanswered, "error": dns.message} if dns.message else {}),
            },
            logging.WARNING,
        )

    def _changed(
        self, key: str, state: str | None, message: str, fields: dict[str, object], level: int
    ) -> None:
        before = self._health.get(key)
        self._health[key] = state
        if state == before:
            return
        if state is None:
            self._logger.info(message, extra={"fields": fields})  # it was failing
        else:
            self._logger.log(level, message, extra={"fields": fields})
