"""A real OCSP responder: Debian's ``openssl ocsp`` answering each request from an
``index.txt`` the test writes (V for valid, R for revoked), signed by the CA.

OpenSSL 3.0's responder mode listens on every interface (its ``-port`` takes a
number only, bound to ``[::]``), so the responder runs in its request-file mode
(``-reqin``/``-respout``), one run per request, behind the tests' loopback HTTP
server (:class:`tests.peers.pki_http.PkiHttp`): the same OpenSSL responder code,
on loopback only.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import tempfile
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from exporter.lab.pki import CA
from tests.peers.pki_http import PkiHttp


def _stamp(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%y%m%d%H%M%SZ")


class OcspResponder:
    def __init__(
        self,
        directory: Path,
        ca: CA,
        http: PkiHttp,
        valid: list[x509.Certificate],
        revoked: list[tuple[x509.Certificate, dt.datetime]] | None = None,
        path: str = "/ocsp",
    ) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        lines = [
            f"V\t{_stamp(c.not_valid_after_utc)}\t\t{c.serial_number:X}\tunknown\t/CN=x"
            for c in valid
        ]
        lines += [
            f"R\t{_stamp(c.not_valid_after_utc)}\t{_stamp(when)},keyCompromise\t"
            f"{c.serial_number:X}\tunknown\t/CN=x"
            for c, when in revoked or []
        ]
        self.index = directory / "index.txt"
        self.index.write_text("".join(line + "\n" for line in lines))
        self.ca_pem = ca.write(directory / "ca.pem")
        self.key_pem = directory / "ca.key"
        self.key_pem.write_bytes(
            ca.key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        self.directory = directory
        self.answered = 0
        http.serve(path, answer=self.answer, content_type="application/ocsp-response")

    def answer(self, request: bytes) -> bytes:
        with tempfile.TemporaryDirectory(dir=self.directory) as work:
            req, resp = Path(work) / "req.der", Path(work) / "resp.der"
            req.write_bytes(request)
            subprocess.run(
                [
                    "openssl", "ocsp", "-index", str(self.index), "-CA", str(self.ca_pem),
                    "-rsigner", str(self.ca_pem), "-rkey", str(self.key_pem),
                    "-reqin", str(req), "-respout", str(resp), "-ndays", "1",
                ],
                check=True,
                capture_output=True,
                timeout=10,
            )  # fmt: skip
            self.answered += 1
            return resp.read_bytes()
