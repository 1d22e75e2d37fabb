"""What every peer process needs: wait until it answers HTTP, and stop it."""

from __future__ import annotations

import subprocess
import time
import urllib.request
from typing import Any


def wait_http(url: str, proc: subprocess.Popen[Any], what: str, timeout: float = 30) -> None:
    """Until ``url`` answers 200; an early exit raises with the process's output."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out = proc.stdout.read() if proc.stdout else ""
            text = out.decode() if isinstance(out, bytes) else out
            raise RuntimeError(f"{what} exited: {text[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{what} not ready within {timeout}s")


def stop(proc: subprocess.Popen[Any], timeout: float = 10) -> None:
    """SIGTERM, then SIGKILL if it has not exited within ``timeout`` seconds."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
