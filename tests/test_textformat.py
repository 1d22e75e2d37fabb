"""The direct text-format writer against prometheus_client's generate_latest: the
same bytes for a rich snapshot's families, and for the awkward values."""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from exporter.service.collector import snapshot_families
from exporter.service.textformat import text_format
from tests.conftest import lab_config, run
from tests.pki import CA


class _Families(Collector):
    def __init__(self, families: list[Metric]) -> None:
        self._families = families

    def collect(self) -> Iterator[Metric]:
        return iter(self._families)


def _library(families: list[Metric]) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Families(families))
    return generate_latest(registry)


def test_a_snapshot_renders_as_the_library_renders_it(
    make_tls, make_dns, write_config, root_file, issuing_ca: CA
) -> None:
    tls = make_tls("127.0.7.9", issuing_ca.issue("mail.contoso.com"))
    dns = make_dns({"exch01.contoso.local": ["127.0.7.9"]})
    entry = {
        "name": "EXCH01",
        "fqdn": "exch01.contoso.local",
        "version": "2016",
        "urls": {
            "ews": f"https://exch01.contoso.local:{tls.port}/EWS/Exchange.asmx",
            "owa": f"https://exch01.contoso.local:{tls.port}/owa",
            "oab": "http://exch01.contoso.local/OAB",
        },
    }
    snapshot = run(write_config(lab_config([entry], dns, [root_file])))
    families = list(snapshot_families(snapshot))
    ours = text_format(families)
    assert b"remediation_info{" in ours  # quotes and backslashes in the fix text
    assert ours == _library(families)


def test_awkward_values_and_help() -> None:
    family = GaugeMetricFamily("x_info", 'Help with \\ and\nnewline "quoted".', labels=["a", "b"])
    family.add_metric(['back\\slash "q"', "new\nline"], 1)
    family.add_metric(["ünïcödé", ""], math.inf)
    family.add_metric(["nan", "neg"], -math.inf)
    family.add_metric(["small", "big"], 1.5e-12)
    family.add_metric(["t", "ts"], 2, timestamp=1700000000.5)
    plain = GaugeMetricFamily("y", "no labels", value=math.nan)
    assert text_format([family, plain]) == _library([family, plain])


def test_what_it_does_not_cover_is_refused() -> None:
    counter = Metric("c", "a counter", "counter")
    with pytest.raises(ValueError, match="only gauges"):
        text_format([counter])
    with pytest.raises(ValueError, match="format can carry"):
        text_format([GaugeMetricFamily("bad-name", "x", value=1)])
