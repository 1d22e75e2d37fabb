"""The exporter's own metrics (build, config reload, refresh interval): a collector
read per scrape, never waiting for a probe. service/http.py renders it at most once
a second beside the snapshot's families (service/collector.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from exporter import __version__


@dataclass(frozen=True)
class ExporterState:
    """What ExporterCollector reads: the exporter's own health."""

    reload_ok: bool
    reload_success_time: float | None
    interval: float


class ExporterCollector(Collector):
    """The exporter's own metrics, from ``state()``; never waits for a probe."""

    def __init__(self, state: Callable[[], ExporterState]) -> None:
        self._state = state

    def describe(self) -> list[Metric]:
        # Registration must not trigger a collection (client_python calls describe).
        return []

    def collect(self) -> Iterator[Metric]:
        state = self._state()
        build = GaugeMetricFamily(
            "exchange_exporter_build_info", "Always 1; the exporter's version.", labels=["version"]
        )
        build.add_metric([__version__], 1)
        yield build
        reload_ok = GaugeMetricFamily(
            "exchange_exporter_config_last_reload_successful",
            "1 if the last configuration load succeeded.",
        )
        reload_ok.add_metric([], 1 if state.reload_ok else 0)
        yield reload_ok
        if state.reload_success_time is not None:
            reload_time = GaugeMetricFamily(
                "exchange_exporter_config_last_reload_success_timestamp_seconds",
                "When the configuration was last loaded successfully.",
            )
            reload_time.add_metric([], state.reload_success_time)
            yield reload_time
        interval = GaugeMetricFamily(
            "exchange_exporter_refresh_interval_seconds",
            "Configured time between background refreshes.",
        )
        interval.add_metric([], state.interval)
        yield interval
