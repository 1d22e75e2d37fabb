"""The benchmark driver: ``benchmarks/run`` (see benchmarks/README.md).

Per target count and key type, interleaves these methods at the same concurrency,
several rounds: (a) a full refresh by this exporter (DNS, handshake, chain,
evaluation, remediation); (b) Debian's prometheus-blackbox-exporter probing the same
targets through /probe with a TLS module (its CPU plus its HTTP driver's); (c) a
bare handshake loop in the same Python (connect, SNI handshake, fetch the chain),
with the exporter's TLS library (pyOpenSSL) and, for reference, with Python's ssl.
Then /metrics latency under wrk while refreshes run, and RSS across refresh cycles.
Reports medians with min-max, and ratios measured in the same run.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import re
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from benchmarks.targets import PORT, address, host, start_targets
from tests.peers.dnsmasq import Dnsmasq, free_port
from tests.peers.process import wait_http

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def proc_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_hwm(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def family(pid: int) -> list[int]:
    """``pid`` and its children (nginx's master and its worker)."""
    pids = [pid]
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            pids.append(int(stat.parent.name))
    return pids


def run_worker(args: list[str], target: list[int], external: int | None = None) -> dict[str, Any]:
    """Run one worker's timed pass; ``target`` are the TLS server's processes, whose
    CPU during the pass shows when the server, not the prober, was the limit."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.workers", *args],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdin is not None
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if line.strip() != "WARM":
        proc.kill()
        raise SystemExit(f"worker {args[0]} failed: {line}{proc.stdout.read()}")
    before = proc_cpu(external) if external else 0.0
    target_before = sum(map(proc_cpu, target))
    proc.stdin.write("GO\n")
    proc.stdin.flush()
    result: dict[str, Any] = json.loads(proc.stdout.readline())
    result["external_cpu"] = proc_cpu(external) - before if external else 0.0
    result["target_cpu"] = sum(map(proc_cpu, target)) - target_before
    proc.wait(timeout=60)
    return result


# A real 2016+ server's nine client URLs, all on its one name (issue #18).
NINE = {
    "autodiscover": "/Autodiscover/Autodiscover.xml",
    "ews": "/EWS/Exchange.asmx",
    "oab": "/OAB",
    "owa": "/owa",
    "ecp": "/ecp",
    "eas": "/Microsoft-Server-ActiveSync",
    "mapi": "/mapi",
    "outlook_anywhere": "/rpc/rpcproxy.dll",
    "backend": "/",
}


def exporter_config(
    workdir: Path,
    count: int,
    ca: Path,
    dns: Dnsmasq,
    conc: int,
    nine: bool = False,
    revocation: bool = True,
) -> Path:
    """``count`` endpoints: one URL per server on a name of its own, or (``nine``)
    nine components per server on one name and address, as Exchange's are."""
    servers: dict[str, dict[str, Any]] = {}
    for i in range(count):
        per = 9 if nine else 1
        name = host(i, per)
        entry = servers.setdefault(
            name,
            {
                "name": f"BENCH{i // per}",
                "fqdn": name,
                "addresses": [address(i // per * per)],
                "urls": {},
            },
        )
        component, url_path = list(NINE.items())[i % 9] if nine else ("ews", NINE["ews"])
        # The back end's own port is the targets' one port here (no 444 on loopback).
        entry["urls"][component] = f"https://{name}:{PORT}{url_path}"
    config = {
        "servers": list(servers.values()),
        "trust": {"ca_files": [str(ca)], "system": False},
        "dns": {"nameservers": [dns.nameserver], "timeout": "2s"},
        "probe": {"interval": "1h", "timeout": "5s", "concurrency": conc},
        "revocation": {"enabled": revocation},
    }
    path = workdir / f"exporter-{count}-{'nine' if nine else 'one'}-{revocation}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def start_blackbox(workdir: Path) -> tuple[subprocess.Popen[bytes], int]:
    config = {
        "modules": {
            "tls": {
                "prober": "tcp",
                "timeout": "5s",
                "tcp": {
                    "tls": True,
                    "tls_config": {
                        "insecure_skip_verify": True,
                        "server_name": "bench0.contoso.test",
                    },
                },
            }
        }
    }
    path = workdir / "blackbox.yml"
    path.write_text(yaml.safe_dump(config))
    port = free_port()
    proc = subprocess.Popen(
        [
            "prometheus-blackbox-exporter",
            f"--config.file={path}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(1)
    return proc, port


def serve_cost(config: Path, refreshes: int = 3, every: float = 15.0) -> dict[str, float]:
    """``serve`` as it runs, measured from outside: its whole CPU (every thread:
    probes, rendering, logging, HTTP) over ``refreshes`` refreshes ``every`` seconds
    apart, while a client scrapes /metrics with gzip every 15 s as Prometheus does."""
    data = yaml.safe_load(config.read_text())
    data["probe"]["interval"] = f"{every:g}s"
    steady = config.with_name("exporter-serve.yaml")
    steady.write_text(yaml.safe_dump(data))
    port = free_port()
    serve = subprocess.Popen(
        [sys.executable, "-m", "exporter", "serve", "--config.file", str(steady),
         "--web.listen-address", f"127.0.0.1:{port}", "--log.format", "json"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    stop = threading.Event()

    def scrape() -> None:
        while not stop.wait(15.0):
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/metrics", headers={"Accept-Encoding": "gzip"}
            )
            with contextlib.suppress(OSError), urllib.request.urlopen(request, timeout=10) as r:  # noqa: S310 - loopback http
                r.read()

    marks: list[float] = []
    scraper = threading.Thread(target=scrape, daemon=True)
    try:
        assert serve.stdout is not None
        for line in serve.stdout:
            if '"refresh complete"' not in line:
                continue
            marks.append(proc_cpu(serve.pid))  # the first refresh is the warm-up
            if len(marks) == 1:
                scraper.start()
            if len(marks) == refreshes + 1:
                break
    finally:
        stop.set()
        serve.terminate()
        serve.wait(timeout=15)
    return {"cpu_per_refresh": (marks[-1] - marks[0]) / refreshes, "refreshes": refreshes}


def metrics_latency(config: Path, seconds: int, gzip: bool) -> dict[str, float]:
    """p50/p99 of /metrics under wrk while background refreshes run; with ``gzip``,
    wrk asks for it as Prometheus does (Accept-Encoding: gzip)."""
    data = yaml.safe_load(config.read_text())
    data["probe"]["interval"] = "3s"
    data["probe"]["timeout"] = "2s"
    fast = config.with_name("exporter-latency.yaml")
    fast.write_text(yaml.safe_dump(data))
    port = free_port()
    serve = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "exporter",
            "serve",
            "--config.file",
            str(fast),
            "--web.listen-address",
            f"127.0.0.1:{port}",
            "--log.level",
            "warn",
        ],
        cwd=ROOT,
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/-/ready", serve, "serve", timeout=60)
        header = ["-H", "Accept-Encoding: gzip"] if gzip else []
        url = f"http://127.0.0.1:{port}/metrics"
        out = subprocess.run(
            ["wrk", "-t2", "-c4", f"-d{seconds}s", "--latency", *header, url],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        serve.terminate()
        serve.wait(timeout=15)

    def pct(label: str) -> float:
        match = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        assert match, out
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "p50_ms": pct("50"),
        "p99_ms": pct("99"),
        "requests": requests,
        "non_2xx": int(errors.group(1)) if errors else 0,
    }


def summarise(values: list[float]) -> tuple[float, float, float]:
    return statistics.median(values), min(values), max(values)


def fmt(values: list[float], digits: int = 0) -> str:
    med, low, high = summarise(values)
    return f"{med:.{digits}f} ({low:.{digits}f}-{high:.{digits}f})"


def _rounds(
    configs: dict[str, Path],
    listings: dict[str, Path],
    bb_port: int,
    bb_pid: int,
    nginx: list[int],
    args: argparse.Namespace,
) -> dict[str, list[dict[str, Any]]]:
    """Every method, interleaved (A B C D E A B C D E ...), ``args.rounds`` times.
    ``listings``: blackbox_exporter's targets by method (one name per URL, nine)."""
    methods = (*configs, *listings, "bare", "bare_stdlib")
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in methods}
    for _ in range(args.rounds):
        for name, config in configs.items():
            results[name].append(run_worker(["refresh", str(config)], nginx))
        for name, targets in listings.items():
            results[name].append(
                run_worker(
                    ["blackbox", str(targets), str(args.concurrency), str(bb_port)],
                    nginx,
                    external=bb_pid,
                )
            )
        for bare in ("bare", "bare_stdlib"):
            listing = str(listings["blackbox"])
            results[bare].append(run_worker([bare, listing, str(args.concurrency)], nginx))
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--targets", default="200,1000")
    parser.add_argument("--keys", default="ecdsa,rsa")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rss-cycles", type=int, default=1000)
    parser.add_argument("--rss-targets", type=int, default=200)
    parser.add_argument("--latency-seconds", type=int, default=10)
    parser.add_argument(
        "--serve-refreshes",
        type=int,
        default=3,
        help="refreshes of `serve` measured from outside, 15 s apart (0: skip)",
    )
    parser.add_argument("--no-write", action="store_true", help="do not update RESULTS.md")
    args = parser.parse_args()
    counts = [int(c) for c in args.targets.split(",")]
    rows: list[dict[str, Any]] = []
    latency: dict[tuple[str, bool], dict[str, float]] = {}
    rss: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        work = Path(tmp)
        for key in args.keys.split(","):
            for count in counts:
                targets = start_targets(count, key, work / f"{key}-{count}")
                # One name per endpoint (worst case) and one per 9 (a real server's URLs).
                records = {host(i): [address(i)] for i in range(count)}
                records.update({host(i, 9): [address(i // 9 * 9)] for i in range(count)})
                dns = Dnsmasq(records, zones=("contoso.test",))
                blackbox, bb_port = start_blackbox(work)
                listing = work / f"targets-{count}.txt"
                listing.write_text("".join(f"{address(i)} {host(i)}\n" for i in range(count)))
                # blackbox_exporter probing every URL as its users configure it: nine
                # URLs per server, nine probes on the same name and address.
                nine = work / f"targets-{count}-nine.txt"
                nine.write_text(
                    "".join(f"{address(i // 9 * 9)} {host(i, 9)}\n" for i in range(count))
                )
                conc, ca = args.concurrency, targets.ca_file
                configs = {
                    "exporter": exporter_config(work, count, ca, dns, conc),
                    # The same with revocation off: what checking CRLs costs, caches warm.
                    "exporter_norev": exporter_config(work, count, ca, dns, conc, revocation=False),
                    "exporter_nine": exporter_config(work, count, ca, dns, conc, nine=True),
                }
                listings = {"blackbox": listing, "blackbox_nine": nine}
                try:
                    results = _rounds(
                        configs, listings, bb_port, blackbox.pid, family(targets.process.pid), args
                    )
                    served = (
                        {
                            shape: serve_cost(configs[name], args.serve_refreshes)
                            for shape, name in (
                                ("a name per endpoint", "exporter"),
                                ("nine components per server", "exporter_nine"),
                            )
                        }
                        if args.serve_refreshes > 0
                        else None
                    )
                    rows.append(
                        {
                            "key": key,
                            "count": count,
                            "results": results,
                            "blackbox_rss": proc_hwm(blackbox.pid),
                            "serve": served,
                        }
                    )
                    print(f"done: {key} {count}", flush=True)
                    if count == max(counts) and not latency and args.latency_seconds > 0:
                        for gzip in (False, True):
                            latency[("threads", gzip)] = metrics_latency(
                                configs["exporter"], args.latency_seconds, gzip
                            )
                    if count == args.rss_targets and not rss and args.rss_cycles >= 10:
                        proc = subprocess.run(
                            [
                                sys.executable,
                                "-m",
                                "benchmarks.workers",
                                "rss",
                                str(configs["exporter"]),
                                str(args.rss_cycles),
                            ],
                            cwd=ROOT,
                            capture_output=True,
                            text=True,
                            check=True,
                        )
                        rss = json.loads(proc.stdout.splitlines()[-1])
                finally:
                    blackbox.terminate()
                    blackbox.wait(timeout=10)
                    dns.stop()
                    targets.stop()
    report = render(rows, latency, rss, args)
    print(report)
    if not args.no_write:
        RESULTS.write_text(report)
    return 0


def render(
    rows: list[dict[str, Any]],
    latency: dict[tuple[str, bool], dict[str, float]],
    rss: dict[str, Any],
    args: argparse.Namespace,
) -> str:
    cpu_model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    lines = [
        "# Benchmark results",
        "",
        f"Run {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC with `benchmarks/run` "
        f"({args.rounds} rounds, interleaved, concurrency {args.concurrency}).",
        f"Machine: {os.cpu_count()} cores ({cpu_model}), Python {platform.python_version()}; "
        f"the exporter's TLS: pyOpenSSL on {_bundled_openssl()}; Python's ssl module: "
        f"{ssl.OPENSSL_VERSION}; nginx-light targets on loopback, blackbox_exporter "
        f"{_bb_version()}. Absolute numbers drift with other tenants; the ratios, measured "
        "in the same run, are the result.",
        "",
        "| targets | key | method | wall s for all targets | probes/s, median (min-max) "
        "| CPU s per 1000 probes | peak RSS MB | nginx busy, % of its one core |",
        "|---|---|---|---|---|---|---|---|",
    ]
    ratios = []
    revocation_rows = []
    serve_rows = []
    for row in rows:
        res = row["results"]

        def rate(items: list[dict[str, Any]]) -> list[float]:
            return [i["probes"] / i["wall"] for i in items]

        def cpu(items: list[dict[str, Any]]) -> list[float]:
            return [(i["cpu"] + i["external_cpu"]) * 1000 / i["probes"] for i in items]

        def busy(items: list[dict[str, Any]]) -> list[float]:
            return [i["target_cpu"] * 100 / i["wall"] for i in items]

        for name, label in (
            ("exporter", "this exporter, full refresh, a DNS name per endpoint"),
            ("exporter_norev", "the same with revocation off (`revocation.enabled: false`)"),
            ("exporter_nine", "this exporter, full refresh, nine components per server"),
            ("blackbox", "blackbox_exporter /probe (+ its driver)"),
            ("blackbox_nine", "blackbox_exporter, every URL of nine per server"),
            ("bare", "bare Python handshake loop, pyOpenSSL (the exporter's TLS library)"),
            ("bare_stdlib", "bare Python handshake loop, Python's ssl module (system OpenSSL)"),
        ):
            peak = (
                row["blackbox_rss"]
                if name.startswith("blackbox")
                else max(i["maxrss_mb"] for i in res[name])
            )
            lines.append(
                f"| {row['count']} | {row['key']} | {label} | "
                f"{fmt([i['wall'] for i in res[name]], 3)} | {fmt(rate(res[name]))} | "
                f"{fmt(cpu(res[name]), 2)} | {peak:.0f} | {fmt(busy(res[name]))} |"
            )
        rev_on, rev_off = (statistics.median(cpu(res[n])) for n in ("exporter", "exporter_norev"))
        revocation_rows.append(
            f"| {row['count']} | {row['key']} | {rev_on:.2f} | {rev_off:.2f} | "
            f"{rev_on / rev_off:.2f} |"
        )
        for shape, served in (row.get("serve") or {}).items():
            per_1000 = served["cpu_per_refresh"] * 1000 / row["count"]
            peer = "blackbox_nine" if shape.startswith("nine") else "blackbox"
            bb_probe = statistics.median(cpu(res[peer]))
            serve_rows.append(
                f"| {row['count']} | {row['key']} | {shape} | {per_1000:.2f} | {bb_probe:.2f} | "
                f"{per_1000 / bb_probe:.2f} |"
            )
        bare = statistics.median(rate(res["bare"]))
        for name, peer, shape in (
            ("exporter", "blackbox", "a name per endpoint"),
            ("exporter_nine", "blackbox_nine", "nine components per server"),
        ):
            bb = statistics.median(rate(res[peer]))
            bb_cpu = statistics.median(cpu(res[peer]))
            exp, exp_cpu = statistics.median(rate(res[name])), statistics.median(cpu(res[name]))
            ratios.append(
                f"| {row['count']} | {row['key']} | {shape} | {exp / bb:.2f} | "
                f"{exp_cpu / bb_cpu:.2f} | {exp / bare:.2f} |"
            )
    lines += [
        "",
        "Ratios (medians; targets: throughput >= 1.0x blackbox, aim 1.5x; CPU per probe "
        "<= 1.0x blackbox, aim 0.67x; >= 0.90x the bare loop):",
        "",
        "| targets | key | DNS names | throughput vs blackbox | CPU per probe vs blackbox | "
        "throughput vs bare loop |",
        "|---|---|---|---|---|---|",
        *ratios,
        "",
        "Revocation on against off (the CRLs of leaf and intermediate from a loopback CDP, "
        "caches warm after the warm-up pass; target: on costs under 1.10x off):",
        "",
        "| targets | key | CPU s per 1000, revocation on | off | on / off |",
        "|---|---|---|---|---|",
        *revocation_rows,
        "",
    ]
    if serve_rows:
        lines += [
            "`serve` as it runs, measured from outside the process: its whole CPU per "
            "refresh (every thread: probes, rendering, logging, HTTP) over "
            f"{args.serve_refreshes} refreshes 15 s apart while /metrics is scraped with "
            "gzip every 15 s, per 1000 endpoints, against blackbox_exporter's CPU per 1000 "
            "probes (target: at most 0.67x):",
            "",
            "| targets | key | shape | serve CPU s per 1000 endpoints per refresh | "
            "blackbox CPU s per 1000 probes | serve / blackbox |",
            "|---|---|---|---|---|---|",
            *serve_rows,
            "",
        ]
    if latency:
        lines += [
            f"`/metrics` at {max(r['count'] for r in rows)} endpoints under wrk (2 threads, 4 "
            "connections) while refreshes run every 3 s (target: p99 under 10 ms). "
            '"gzip": wrk asks for it as Prometheus does.',
            "",
            "| probes in | Accept-Encoding | p50 ms | p99 ms | requests | errors |",
            "|---|---|---|---|---|---|",
        ]
        for (_mode, gzip), lat in latency.items():
            where = "the serving process, 16 at once"
            lines.append(
                f"| {where} | {'gzip' if gzip else '(none)'} | {lat['p50_ms']:.2f} | "
                f"{lat['p99_ms']:.2f} | {lat['requests']} | {lat['non_2xx']} |"
            )
        lines.append("")
    if rss:
        steps = ", ".join(f"{mb:.1f} MB after {n}" for n, mb in rss["marks_mb"].items())
        lines.append(
            f"RSS at {args.rss_targets} endpoints: {rss['rss_after_10_mb']:.1f} MB after "
            f"10 refreshes, {rss['rss_after_n_mb']:.1f} MB after {rss['cycles']} "
            f"({rss['seconds']:.0f} s; {steps}) (target: no growth)."
        )
    return "\n".join(lines) + "\n"


def _bundled_openssl() -> str:
    from cryptography.hazmat.backends.openssl.backend import backend

    return str(backend.openssl_version_text())


def _bb_version() -> str:
    out = subprocess.run(
        ["prometheus-blackbox-exporter", "--version"], capture_output=True, text=True, check=False
    )
    match = re.search(r"version (\S+)", out.stdout + out.stderr)
    return match.group(1) if match else "?"


if __name__ == "__main__":
    if shutil.which("nginx") is None or shutil.which("wrk") is None:
        raise SystemExit(
            "benchmarks: needs nginx-light, wrk, dnsmasq-base and "
            "prometheus-blackbox-exporter (benchmarks/run installs them as root)"
        )
    sys.exit(main())
