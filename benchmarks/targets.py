"""Benchmark targets: Debian's nginx-light with one server block per loopback
address (127.1.x.y:8443), TLS 1.2 and 1.3, an ECDSA or RSA leaf under a test CA,
and a DNS server (dnsmasq) that knows every target's name. The leaf and its
intermediate name CRL distribution points that the same nginx serves over plain
HTTP on :data:`CRL_ADDRESS`, as an AD CS web CDP does, so a refresh with
revocation on has real CRLs to fetch and judge.
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from exporter.lab.pki import CA, DAY, NOW

PORT = 8443
CRL_ADDRESS = "127.0.9.1"


def address(index: int) -> str:
    return f"127.1.{index // 250}.{index % 250 + 1}"


def host(index: int, per_name: int = 1) -> str:
    """The URL host of target ``index``; ``per_name`` endpoints share one name, as a
    real server's ~9 internal URLs share its one or two names."""
    if per_name == 1:
        return f"bench{index}.contoso.test"
    return f"srv{index // per_name}.contoso.test"


@dataclass
class Targets:
    count: int
    key: str
    workdir: Path
    ca_file: Path
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def _crl_point(name: str) -> x509.CRLDistributionPoints:
    uri = x509.UniformResourceIdentifier(f"http://{CRL_ADDRESS}/{name}")
    return x509.CRLDistributionPoints([x509.DistributionPoint([uri], None, None, None)])


def _leaf(ca: CA, key_type: str, directory: Path) -> tuple[Path, Path]:
    key = (
        ec.generate_private_key(ec.SECP256R1())
        if key_type == "ecdsa"
        else rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    name = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "*.contoso.test")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - DAY)
        .not_valid_after(NOW + 365 * DAY)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("*.contoso.test")]), False)
        .add_extension(_crl_point("issuing.crl"), False)
        .sign(ca.key, hashes.SHA256())
    )
    cert_path, key_path = directory / f"leaf-{key_type}.pem", directory / f"leaf-{key_type}.key"
    chain = [cert, *ca.chain]
    cert_path.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in chain))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def start_targets(count: int, key_type: str, workdir: Path) -> Targets:
    workdir.mkdir(parents=True, exist_ok=True)
    root = CA("Bench Root")
    issuing = CA("Bench Issuing", parent=root, crl=f"http://{CRL_ADDRESS}/root.crl")
    ca_file = root.write(workdir / "root.pem")
    crls = workdir / "crl"
    crls.mkdir(exist_ok=True)
    (crls / "root.crl").write_bytes(root.crl())
    (crls / "issuing.crl").write_bytes(issuing.crl())
    cert, key = _leaf(issuing, key_type, workdir)
    servers = "\n".join(
        f"server {{ listen {address(i)}:{PORT} ssl; ssl_certificate {cert}; "
        f"ssl_certificate_key {key}; ssl_protocols TLSv1.2 TLSv1.3; return 204; }}"
        for i in range(count)
    )
    # The CRLs lie in a private temporary directory: as root, the worker reads them
    # as root too (nginx ignores the directive, with a warning, for anyone else).
    user = "user root;\n" if os.geteuid() == 0 else ""
    conf = workdir / "nginx.conf"
    conf.write_text(f"""
daemon off;
{user}worker_processes 1;
pid {workdir}/nginx.pid;
error_log {workdir}/error.log;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {workdir}/tmp;
  proxy_temp_path {workdir}/tmp;
  fastcgi_temp_path {workdir}/tmp;
  uwsgi_temp_path {workdir}/tmp;
  scgi_temp_path {workdir}/tmp;
  {servers}
  server {{ listen {CRL_ADDRESS}:80; root {crls}; default_type application/pkix-crl; }}
}}
""")
    (workdir / "tmp").mkdir(exist_ok=True)
    process = subprocess.Popen(
        ["nginx", "-c", str(conf), "-p", str(workdir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    time.sleep(0.5)
    if process.poll() is not None:
        raise RuntimeError(
            f"nginx failed: {process.stderr.read().decode() if process.stderr else ''}"
        )
    return Targets(count, key_type, workdir, ca_file, process)
