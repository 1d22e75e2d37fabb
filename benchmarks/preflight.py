"""Preflight at organisation scale (issue #25 item 6): 1,000 endpoints judged with
``--no-fetch``, against the target of 2 s on this machine, and as a ratio against a
peer measured in the same run.

The organisation: 112 servers with Exchange 2019's nine internal URLs each (1,008
endpoints), every URL on the server's own name (KB 940726's shape), resolved
through dnsmasq on loopback as ``report`` would. Two candidates:

- **covers every name** (``*.contoso.local``): nothing breaks, so preflight also
  builds and proves a deployment plan for each of the 112 servers;
- **mail.contoso.com only**: every endpoint breaks, so the what-if plans the fix
  for the whole organisation (the plan issue's model) before it reports.

The peer is the least any tool must do per endpoint: ``cryptography``'s Rust
verifier (``PolicyBuilder().build_server_verifier``) checking the chain and the
URL's name, once per endpoint, in the same process. It judges less (no Windows
policy, no client families, no DNS, no plan) but verifies the chain for every
endpoint, where preflight judges the one chain once and each endpoint's name, DNS
and clients against it: so with nothing to plan preflight is the faster, and the
ratio of the breaking candidate is what planning the organisation's fix costs.
Rows: preflight() in-process (best of --rounds), the whole CLI as an admin runs it
(process start included), and the peer.

Run: ``python -m benchmarks.preflight [--rounds 5]`` (needs dnsmasq; no root, no
network namespace: every address is 127.0.0.1). Nothing here is asserted in the
test suite.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from cryptography import x509
from cryptography.x509.verification import PolicyBuilder, Store

from benchmarks.run import NINE
from exporter.certfile import der_chain, read_certificate_file
from exporter.config import load_config
from exporter.preflight import preflight
from tests.peers.dnsmasq import Dnsmasq
from tests.pki import CA

SERVERS = 112
# Exchange 2019's client URLs (benchmarks/run.py's nine, the back end aside: not
# for the new certificate) and SMTP.
COMPONENTS = {**{c: p for c, p in NINE.items() if c != "backend"}, "smtp": "smtp://{host}:25"}
TARGET_SECONDS = 2.0


def organisation(work: Path, dns: Dnsmasq, root_file: Path) -> Path:
    servers = []
    for n in range(SERVERS):
        host = f"ex{n:03d}.contoso.local"
        urls = {
            c: (p.format(host=host) if "://" in p else f"https://{host}{p}")
            for c, p in COMPONENTS.items()
        }
        servers.append({"name": f"EX{n:03d}", "fqdn": host, "version": "2019", "urls": urls})
    config = {
        "servers": servers,
        "trust": {"ca_files": [str(root_file)], "system": False},
        "dns": {"nameservers": [f"{dns.address}:{dns.port}"], "timeout": "2s"},
    }
    path = work / "org.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def peer(leaf: x509.Certificate, chain: list[x509.Certificate], root: x509.Certificate,
         hosts: list[str]) -> float:  # fmt: skip
    """Chain and name per endpoint, by cryptography's Web PKI verifier."""
    builder = PolicyBuilder().store(Store([root])).time(dt.datetime.now(dt.UTC))
    start = time.perf_counter()
    for host in hosts:
        verifier = builder.build_server_verifier(x509.DNSName(host))
        with contextlib.suppress(x509.verification.VerificationError):
            verifier.verify(leaf, chain)  # a name it lacks: judged all the same
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-preflight-"))
    root = CA("Bench Root")
    issuing = CA("Bench Issuing", parent=root)
    root_file = work / "root.pem"
    root_file.write_bytes(root.pem())
    records = {f"ex{n:03d}.contoso.local": ["127.0.0.1"] for n in range(SERVERS)}
    dns = Dnsmasq(records)
    try:
        config_path = organisation(work, dns, root_file)
        config = load_config(str(config_path))
        store = config.trust.store
        candidates = {
            "covers every name": issuing.issue("*.contoso.local", "mail.contoso.com"),
            "mail.contoso.com only": issuing.issue("mail.contoso.com"),
        }
        hosts = [f"ex{n:03d}.contoso.local" for n in range(SERVERS) for _ in COMPONENTS]
        rows = []
        for label, issued in candidates.items():
            pem, _ = issued.write(work, label.split()[0])
            cert = read_certificate_file(pem)
            chain = der_chain(cert)
            at = dt.datetime.now(dt.UTC)
            inproc, cli, peers, judged = [], [], [], 0
            for _ in range(args.rounds):
                start = time.perf_counter()
                result = preflight(config, chain, store, at, fetch=False)
                inproc.append(time.perf_counter() - start)
                judged = len(result.verdicts)
                start = time.perf_counter()
                done = subprocess.run(
                    [sys.executable, "-m", "exporter", "preflight", str(pem),
                     "--config.file", str(config_path), "--no-fetch", "--format", "json"],
                    capture_output=True, check=False,
                )  # fmt: skip
                cli.append(time.perf_counter() - start)
                if done.returncode not in (0, 1):
                    raise SystemExit(f"preflight failed: {done.stderr.decode()[:300]}")
                peers.append(peer(issued.cert, list(cert.chain), root.cert, hosts))
            rows.append((label, judged, min(inproc), min(cli), min(peers)))
    finally:
        dns.stop()
    render(rows, args.rounds)
    return 0


def render(rows: list[tuple[str, int, float, float, float]], rounds: int) -> None:
    lines = [
        f"# Preflight benchmark ({dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC)",
        "",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}; best of {rounds} rounds; `--no-fetch`.",
        f"Target: 1,000 endpoints in under {TARGET_SECONDS:.0f} s.",
        "",
        "| candidate | endpoints | preflight() | CLI (with start-up) | peer: chain+name "
        "| preflight / peer | CLI / target |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for label, judged, inproc, cli, peer_s in rows:
        lines.append(
            f"| {label} | {judged} | {inproc:.3f} s | {cli:.3f} s | {peer_s:.3f} s "
            f"| {inproc / peer_s:.2f}x | {cli / TARGET_SECONDS:.2f} |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    (Path(__file__).parent / "PREFLIGHT.md").write_text(text)


if __name__ == "__main__":
    sys.exit(main())
