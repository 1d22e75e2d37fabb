"""probe.processes > 1: the same verdicts from worker processes, the CLI safe under
"forkserver", and a dead worker's share probed in-process instead of lost."""

from __future__ import annotations

import json
import os
import signal

from exporter.config import load_config
from exporter.pipeline import World, run_cycle
from exporter.probe import processes
from tests.conftest import lab_config, run_exporter


def _lab(make_tls, make_dns, write_config, root_file, issuing_ca, count=6, procs=2):
    good = make_tls("127.0.9.1", issuing_ca.issue("mail.contoso.com"))
    bad = make_tls("127.0.9.2", issuing_ca.issue("other.contoso.com"))
    dns = make_dns({"mail.contoso.com": ["127.0.9.1"], "exch02.contoso.local": ["127.0.9.2"]})
    servers = [
        {
            "name": f"EXCH{i}",
            "fqdn": "mail.contoso.com",
            "addresses": ["127.0.9.1" if i % 2 else "127.0.9.2"],
            "urls": {"ews": f"https://mail.contoso.com:{good.port if i % 2 else bad.port}/EWS"},
        }
        for i in range(count)
    ]
    data = lab_config(servers, dns, [root_file])
    data["probe"]["processes"] = procs
    return write_config(data)


def _summary(snapshot):
    return [
        (
            r.verdict.probe.endpoint.server.name,
            r.status.value,
            {c.value: o.ok for c, o in r.verdict.checks.items()},
        )
        for r in snapshot.endpoints
    ]


def test_worker_processes_give_the_same_verdicts(
    make_tls, make_dns, write_config, root_file, issuing_ca
) -> None:
    path = _lab(make_tls, make_dns, write_config, root_file, issuing_ca)
    config = load_config(str(path))
    in_processes = run_cycle(config)
    import dataclasses

    threads = run_cycle(
        dataclasses.replace(config, probe=dataclasses.replace(config.probe, processes=1))
    )
    assert _summary(in_processes) == _summary(threads)
    assert [s for _, s, _ in _summary(in_processes)] == ["critical", "ok"] * 3
    assert processes._pool is not None  # the pool really ran


def test_a_dead_worker_loses_no_endpoint(
    make_tls, make_dns, write_config, root_file, issuing_ca
) -> None:
    path = _lab(make_tls, make_dns, write_config, root_file, issuing_ca)
    config = load_config(str(path))
    run_cycle(config)  # start the pool
    pool = processes._get_pool(2)
    for pid in list(pool._processes):
        os.kill(pid, signal.SIGKILL)
    snapshot = run_cycle(config, World())
    assert [s for _, s, _ in _summary(snapshot)] == ["critical", "ok"] * 3
    assert processes._pool is None or processes._pool is not pool  # rebuilt next time


def test_cli_with_processes_does_not_recurse(
    make_tls, make_dns, write_config, root_file, issuing_ca
) -> None:
    path = _lab(make_tls, make_dns, write_config, root_file, issuing_ca)
    result = run_exporter("report", "--config.file", str(path), "--format", "json")
    assert result.returncode == 2, result.stderr
    assert len(json.loads(result.stdout)["endpoints"]) == 6
    assert result.stderr == ""
