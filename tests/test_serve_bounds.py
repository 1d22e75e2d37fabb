"""`serve` bounds its clients (issue #23): a slowloris of thousands of trickling
connections, with basic auth and with web TLS on, against the exporter as users run
it, started with the 1,024 descriptors systemd leaves a unit without LimitNOFILE.
Authenticated scrapes still succeed within a few seconds, an unauthenticated one
still gets 401, the exporter's descriptors stay at the cap and its threads few; a
trickler is closed at the header deadline however steadily it trickles, and a
kept-alive connection that sent its request whole is not."""

from __future__ import annotations

import argparse
import base64
import contextlib
import http.client
import logging
import os
import re
import resource
import select
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import bcrypt
import pytest
import yaml

from exporter.cli import build_parser
from exporter.config.schema import ProbeConfig
from exporter.service.collector import ExporterState, Exposition
from exporter.service.connections import DEFAULT_MAX_CONNECTIONS, ConnectionLimits
from exporter.service.http import ExporterServer
from exporter.service.run import RESERVED_DESCRIPTORS
from exporter.service.webconfig import BasicAuth
from tests.conftest import run_exporter
from tests.pki import CA

PASSWORD = "s3cret-canary"
AUTH = ("prometheus", PASSWORD)
TARGET = 3000  # trickling connections, as many as the descriptor limit allows below it
CAP = 512  # --web.max-connections' default, left as it is
SYSTEMD_DEFAULT_NOFILE = 1024
TRICKLE = 0.5  # seconds between one connection's bytes
# A request head that never ends, and is sent a byte at a time.
PLAIN_HEAD = b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Trickle: " + b"a" * 4000


@contextlib.contextmanager
def descriptor_limit(soft: int) -> Iterator[int]:
    """This process's soft RLIMIT_NOFILE at ``soft`` (at most the hard limit);
    a child started meanwhile inherits it."""
    before = resource.getrlimit(resource.RLIMIT_NOFILE)
    hard = before[1]
    soft = soft if hard == resource.RLIM_INFINITY else min(soft, hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    try:
        yield soft
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, before)


def client_hello() -> bytes:
    """A real TLS ClientHello, for tricklers of the handshake itself."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_hostname="localhost")
    with contextlib.suppress(ssl.SSLWantReadError):
        tls.do_handshake()
    return outgoing.read()


class Slowloris:
    """``count`` connections that each send ``payload`` a byte every TRICKLE seconds
    from one thread, and open a new one for each the server closes (as the
    slowloris tool does), until stopped."""

    def __init__(self, port: int, payload: bytes, count: int) -> None:
        self.port, self.payload, self.count = port, payload, count
        self.conns: dict[socket.socket, int] = {}  # socket -> bytes sent
        self.opened = self.closed = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Slowloris:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)
        for sock in self.conns:
            sock.close()
        self.conns.clear()

    def _open(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        sock.connect_ex(("127.0.0.1", self.port))
        self.conns[sock] = 0
        self.opened += 1

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            for sock, sent in list(self.conns.items()):
                if not self._alive(sock):
                    del self.conns[sock]
                    sock.close()
                    self.closed += 1
                    continue
                with contextlib.suppress(BlockingIOError, OSError):
                    self.conns[sock] = sent + sock.send(self.payload[sent : sent + 1])
            while len(self.conns) < self.count and not self._stop.is_set():
                self._open()
            self._stop.wait(max(0.0, TRICKLE - (time.monotonic() - started)))

    @staticmethod
    def _alive(sock: socket.socket) -> bool:
        try:
            return sock.recv(1) != b""
        except BlockingIOError:
            return True
        except OSError:
            return False


def web_config(tmp_path: Path, issuing_ca: CA | None) -> Path:
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    data: dict[str, Any] = {"basic_auth_users": {"prometheus": hashed}}
    if issuing_ca is not None:
        cert, key = issuing_ca.issue("localhost", ips=("127.0.0.1",)).write(tmp_path, "web")
        data["tls_server_config"] = {"cert_file": str(cert), "key_file": str(key)}
    web = tmp_path / "web.yml"
    web.write_text(yaml.safe_dump(data))
    return web


def descriptors(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def threads(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("Threads:")).split()[1])


@pytest.mark.parametrize("tls", [False, True], ids=["basic_auth", "tls_and_basic_auth"])
def test_scrapes_succeed_under_a_slowloris(
    kb_lab, start_exporter, tmp_path: Path, issuing_ca: CA, root_file: Path, tls: bool
) -> None:
    path, _, _ = kb_lab
    web = web_config(tmp_path, issuing_ca if tls else None)
    context = ssl.create_default_context(cafile=str(root_file)) if tls else None
    with descriptor_limit(SYSTEMD_DEFAULT_NOFILE):
        exporter = start_exporter(path, "--web.config.file", str(web), ready=False)
    base = exporter.base.replace("http://", "https://") if tls else exporter.base
    exporter.wait_ready(context=context, base=base, auth=AUTH)
    pid = exporter.process.pid
    with descriptor_limit(2**20) as limit:
        count = min(TARGET, limit - 256)
        assert count > 2 * CAP, f"RLIMIT_NOFILE {limit} leaves too few for a slowloris"
        payload = client_hello() if tls else PLAIN_HEAD
        with Slowloris(exporter.port, payload, count) as loris:
            # Wait until the exporter has closed as many tricklers as are open: the
            # cap is reached and the slowloris replaces what it loses.
            pressing = time.monotonic() + 10
            while loris.closed < count and time.monotonic() < pressing:
                time.sleep(0.05)
            assert loris.closed >= count, "the slowloris never reached the cap"
            seen_fds, seen_threads, latencies = [], [], []
            for _ in range(6):
                started = time.monotonic()
                code, body, _ = exporter.get(
                    "/metrics", auth=AUTH, context=context, base=base, timeout=5
                )
                latencies.append(time.monotonic() - started)
                assert code == 200
                assert "exchange_internal_url_status" in body
                assert exporter.get("/metrics", context=context, base=base, timeout=5)[0] == 401
                seen_fds.append(descriptors(pid))
                seen_threads.append(threads(pid))
                time.sleep(0.3)
    assert exporter.process.poll() is None
    assert max(latencies) < 3.0, latencies
    # Descriptors: the cap's connections and the process's few others; threads: the
    # refresher, the connection loop and a few workers, never one per trickler.
    assert max(seen_fds) <= CAP + 64, seen_fds
    assert max(seen_threads) <= 32, seen_threads
    # After the attack the exporter is itself again.
    assert exporter.get("/metrics", auth=AUTH, context=context, base=base)[0] == 200


def trickle_until_closed(sock: socket.socket, payload: bytes, limit: float) -> tuple[float, int]:
    """Send ``payload`` a byte every TRICKLE seconds until the server closes the
    connection; (seconds from connect to close, bytes sent)."""
    started, sent = time.monotonic(), 0
    while time.monotonic() - started < limit:
        with contextlib.suppress(OSError):
            sent += sock.send(payload[sent : sent + 1])
        readable, _, _ = select.select([sock], [], [], TRICKLE)
        if readable:
            try:
                if sock.recv(4096) == b"":
                    break
            except OSError:
                break
    return time.monotonic() - started, sent


@pytest.mark.parametrize("tls", [False, True], ids=["plain", "tls_handshake"])
def test_a_trickler_is_closed_at_the_header_deadline(
    kb_lab, start_exporter, tmp_path: Path, issuing_ca: CA, root_file: Path, tls: bool
) -> None:
    path, _, _ = kb_lab
    web = web_config(tmp_path, issuing_ca if tls else None)
    context = ssl.create_default_context(cafile=str(root_file)) if tls else None
    exporter = start_exporter(
        path, "--web.config.file", str(web), "--web.read-header-timeout", "2s", ready=False
    )
    base = exporter.base.replace("http://", "https://") if tls else exporter.base
    exporter.wait_ready(context=context, base=base, auth=AUTH)
    with socket.create_connection(("127.0.0.1", exporter.port), timeout=5) as sock:
        lasted, sent = trickle_until_closed(sock, client_hello() if tls else PLAIN_HEAD, 10)
    # Closed at the deadline from the accept, although a byte came every half second.
    assert 2.0 <= lasted < 2.0 + TRICKLE + 0.4, lasted
    assert sent >= 4
    # Control: a kept-alive connection that sent its requests whole stays open past
    # the deadline, idle, and answers its next request on the same socket.
    if tls:
        assert context is not None
        client: http.client.HTTPConnection = http.client.HTTPSConnection(
            "127.0.0.1", exporter.port, timeout=5, context=context
        )
    else:
        client = http.client.HTTPConnection("127.0.0.1", exporter.port, timeout=5)
    token = base64.b64encode(f"{AUTH[0]}:{AUTH[1]}".encode()).decode()
    headers = {"Authorization": f"Basic {token}"}
    try:
        client.request("GET", "/-/ready", headers=headers)
        first = client.getresponse()
        assert (first.status, first.read()) == (200, b"Ready\n")
        kept = client.sock
        time.sleep(2.5)
        client.request("GET", "/-/ready", headers=headers)
        second = client.getresponse()
        assert (second.status, second.read()) == (200, b"Ready\n")
        assert client.sock is kept
        # And an unauthenticated request on it is still refused.
        client.request("GET", "/metrics")
        refused = client.getresponse()
        refused.read()
        assert refused.status == 401
    finally:
        client.close()


# The connection loop in-process, with a stand-in refresher (as tests/test_http_unit.py):
# what happens at the cap, and to heads that are pipelined, too large or followed by a body.


class _Refresher:
    def __init__(self, body: bytes) -> None:
        self.exposition = Exposition(body)  # plain only: these clients ask for no gzip
        self.snapshot = None
        self.ready = threading.Event()

    def state(self) -> ExporterState:
        return ExporterState(True, None, 60.0)


@contextlib.contextmanager
def in_process(max_connections: int, body: bytes = b"x 1\n") -> Iterator[ExporterServer]:
    server = ExporterServer(
        ("127.0.0.1", 0),
        _Refresher(body),  # type: ignore[arg-type]
        BasicAuth({}),
        logging.getLogger("test"),
        limits=ConnectionLimits(max_connections, read_header_timeout=10.0),
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def connect() -> Iterator[Callable[[ExporterServer], socket.socket]]:
    """Client connections, every one closed after the test."""
    with contextlib.ExitStack() as stack:
        yield lambda server: stack.enter_context(
            socket.create_connection(server.server_address, timeout=5)
        )


def closed_by_server(sock: socket.socket, within: float = 1.0) -> bool:
    readable, _, _ = select.select([sock], [], [], within)
    if not readable:
        return False
    try:
        return sock.recv(1) == b""
    except OSError:
        return True


def read_response(sock: socket.socket) -> http.client.HTTPResponse:
    response = http.client.HTTPResponse(sock)
    response.begin()
    response.read()
    return response


def statuses(sock: socket.socket, count: int) -> list[int]:
    """The statuses of ``count`` responses in a row, read through one buffer (one
    http.client response each would lose what its buffer read of the next)."""
    out = []
    with sock.makefile("rb") as stream:
        for _ in range(count):
            out.append(int(stream.readline().split()[1]))
            length = 0
            while (line := stream.readline()) not in (b"\r\n", b""):
                name, _, value = line.partition(b":")
                length = int(value) if name.lower() == b"content-length" else length
            stream.read(length)
    return out


def test_at_the_cap_the_connection_waiting_longest_is_closed(connect) -> None:
    with in_process(max_connections=2) as server:
        first, second = connect(server), connect(server)
        time.sleep(0.2)
        third = connect(server)
        assert closed_by_server(first)
        assert not closed_by_server(second, within=0.3)
        # A scrape that sends its request at once is served, pushing out the next.
        fourth = connect(server)
        fourth.sendall(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_response(fourth).status == 200
        assert closed_by_server(second)
        assert not closed_by_server(third, within=0.3)


def test_at_the_cap_with_every_connection_answering_a_new_one_is_closed_at_once(
    connect,
) -> None:
    big = b"exchange_test 1\n" * 2_000_000  # 32 MB: more than loopback's buffers hold
    with in_process(max_connections=1, body=big) as server:
        busy = connect(server)
        busy.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.3)  # its worker is blocked writing to a client that does not read
        refused = connect(server)
        assert closed_by_server(refused)
        response = read_response(busy)
        assert response.status == 200
        later = connect(server)
        later.sendall(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_response(later).status == 200


def test_pipelined_requests_are_answered_in_order_and_a_body_ends_the_connection(
    connect,
) -> None:
    with in_process(max_connections=4) as server:
        sock = connect(server)
        sock.sendall(
            b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n"
            b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n"
            b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nGET "
        )
        assert statuses(sock, 3) == [200, 404, 405]
        assert closed_by_server(sock)  # the body was not read as a request


def test_a_head_beyond_64_kib_is_refused(connect) -> None:
    with in_process(max_connections=4) as server:
        sock = connect(server)
        sock.sendall(b"GET / HTTP/1.1\r\nX-Big: " + b"a" * (70 * 1024))
        assert read_response(sock).status == 431
        assert closed_by_server(sock)


# The flags as an operator meets them: in --help and the README with their defaults,
# refused when nonsensical, and sized against the systemd unit's descriptor limit.

ROOT = Path(__file__).parent.parent


def serve_parser() -> argparse.ArgumentParser:
    return build_parser()._subparsers._group_actions[0].choices["serve"]  # type: ignore[union-attr,no-any-return]


@pytest.mark.parametrize(
    ("flag", "default"), [("--web.max-connections", "512"), ("--web.read-header-timeout", "5s")]
)
def test_the_flags_are_documented_with_their_defaults(flag: str, default: str) -> None:
    parser = serve_parser()
    assert str(parser._option_string_actions[flag].default) == default
    assert f"(default {default})" in " ".join(parser.format_help().split())
    assert f"[{flag} {default}]" in (ROOT / "README.md").read_text()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--web.max-connections", "0"], "--web.max-connections must be at least 1"),
        (["--web.read-header-timeout", "0s"], "--web.read-header-timeout must be above 0s"),
        (["--web.read-header-timeout", "5"], "'5' is not a duration such as 800ms"),
    ],
)
def test_nonsensical_limits_are_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    # Refused before the config file is read: it need not exist.
    result = run_exporter("serve", "--config.file", str(tmp_path / "config.yaml"), *args)
    assert result.returncode == 2
    assert message in result.stderr
    assert len(result.stderr.splitlines()) == 1, result.stderr


def test_the_systemd_unit_leaves_descriptors_beside_the_cap() -> None:
    unit = (ROOT / "contrib" / "exchange-cert-exporter.service").read_text()
    match = re.search(r"^LimitNOFILE=(\d+)$", unit, re.M)
    assert match, "the unit must set LimitNOFILE"
    cap = re.search(r"--web\.max-connections[ =](\d+)", unit)
    connections = int(cap.group(1)) if cap else DEFAULT_MAX_CONNECTIONS
    needed = connections + ProbeConfig.concurrency + RESERVED_DESCRIPTORS
    assert int(match.group(1)) >= needed
    assert int(match.group(1)) > SYSTEMD_DEFAULT_NOFILE
