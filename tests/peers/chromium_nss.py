"""Debian's Chromium as a client that judges certificates: headless, driven by
Playwright, trusting the roots a test puts in a private NSS database.

Chromium on Linux reads locally trusted roots from ``$HOME/.pki/nssdb``; a test
gives it a HOME of its own (a temp dir) whose database libnss3-tools' certutil
filled, so the enterprise root is the test's and nothing else's. No
``--ignore-certificate-errors``: a page either loads or fails with Chromium's own
``net::ERR_CERT_*`` code.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
CERTUTIL = "/usr/bin/certutil"  # Debian's libnss3-tools
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

_NET_ERROR = re.compile(r"net::(ERR_[A-Z0-9_]+)")


def nss_home(home: Path, roots: Iterable[Path] = ()) -> Path:
    """Make ``home`` a HOME whose ``.pki/nssdb`` trusts ``roots`` (PEM files) as CAs
    for TLS servers ("C,,"); with no roots, an empty database. Returns ``home``."""
    db = home / ".pki" / "nssdb"
    db.mkdir(parents=True, exist_ok=True)
    certutil = [CERTUTIL, "-d", f"sql:{db}"]
    subprocess.run([*certutil, "-N", "--empty-password"], check=True, capture_output=True)
    for n, root in enumerate(roots):
        subprocess.run(
            [*certutil, "-A", "-t", "C,,", "-n", f"root{n}", "-i", str(root)],
            check=True,
            capture_output=True,
        )
    listed = subprocess.run([*certutil, "-L"], check=True, capture_output=True, text=True)
    for n, _ in enumerate(roots):
        if f"root{n}" not in listed.stdout:
            raise RuntimeError(f"certutil did not add root{n}: {listed.stdout}")
    return home


def launch(playwright: Any, home: Path, resolver_rules: str) -> Any:
    """A headless Chromium whose HOME (so whose NSS database) is ``home`` and whose
    host names resolve by ``resolver_rules`` (``MAP mail.contoso.com 127.0.24.1``)."""
    return playwright.chromium.launch(
        executable_path=CHROMIUM,
        args=[*FLAGS, f"--host-resolver-rules={resolver_rules}"],
        env={**os.environ, "HOME": str(home)},
    )


@dataclass(frozen=True)
class Visit:
    """What Chromium did with a page: loaded it (``status``, ``body``) or refused it
    (``error``: Chromium's net error code, e.g. ``ERR_CERT_COMMON_NAME_INVALID``)."""

    error: str | None
    status: int | None = None
    body: bytes = b""

    @property
    def loaded(self) -> bool:
        return self.error is None

    @property
    def certificate_error(self) -> bool:
        return self.error is not None and self.error.startswith("ERR_CERT_")


def visit(browser: Any, url: str, timeout_ms: float = 10_000) -> Visit:
    """Load ``url`` in a fresh browser context (no socket, session or cache shared
    with another visit)."""
    from playwright.sync_api import Error

    context = browser.new_context()
    try:
        page = context.new_page()
        try:
            response = page.goto(url, timeout=timeout_ms)
        except Error as error:
            found = _NET_ERROR.search(error.message)
            if found is None:
                raise
            return Visit(found.group(1))
        if response is None:
            raise RuntimeError(f"no response for {url}")
        return Visit(None, response.status, response.body())
    finally:
        context.close()
