"""The probe watchdog: a socket is shut down at its deadline and never after its
guard is released, and released guards do not pile up."""

from __future__ import annotations

import socket
import time

from exporter.probe.deadline import Watchdog
from tests.peers import hostile


def test_a_blocked_read_is_woken_at_the_deadline() -> None:
    peer = hostile.TcpPeer("127.0.2.6", hostile.silent)
    watchdog = Watchdog()
    try:
        with socket.create_connection(("127.0.2.6", peer.port)) as sock:
            sock.sendall(b"hello")
            start = time.monotonic()
            with watchdog.guard(sock, start + 0.3) as guard:
                data = sock.recv(10)  # blocks: the peer never speaks
            elapsed = time.monotonic() - start
    finally:
        peer.close()
    assert data == b""
    assert guard.fired
    assert 0.25 < elapsed < 1.0


def test_a_released_guard_never_fires() -> None:
    watchdog = Watchdog()
    left, right = socket.socketpair()
    with left, right:
        with watchdog.guard(left, time.monotonic() + 0.1) as guard:
            pass
        time.sleep(0.3)
        assert not guard.fired
        right.sendall(b"x")
        assert left.recv(1) == b"x"  # still open for reading: never shut down
        assert watchdog.pending() == 0


def test_an_earlier_deadline_wakes_the_thread() -> None:
    watchdog = Watchdog()
    far_left, far_right = socket.socketpair()
    near_left, near_right = socket.socketpair()
    with far_left, far_right, near_left, near_right:
        far = watchdog.guard(far_left, time.monotonic() + 30)
        start = time.monotonic()
        with watchdog.guard(near_left, start + 0.2) as near:
            assert near_left.recv(1) == b""
        assert near.fired
        assert time.monotonic() - start < 1.0
        assert not far.fired
        watchdog.release(far)


def test_released_guards_are_dropped_from_a_long_queue() -> None:
    watchdog = Watchdog()
    left, right = socket.socketpair()
    with left, right:
        for _ in range(1000):
            with watchdog.guard(left, time.monotonic() + 3600):
                pass
        assert len(watchdog._heap) <= 130
        assert watchdog.pending() == 0
