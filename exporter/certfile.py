"""The certificate file an admin is about to bind, read for ``preflight CERT_FILE``
(issue #25 item 2): preflight's input, turned into a leaf and the chain it comes with.

Formats, told apart by content, never by the file's extension:

- PEM: any number of ``CERTIFICATE`` (or ``PKCS7``) blocks in any order, text
  around them, and other blocks (a ``PRIVATE KEY``) skipped without being decoded;
  UTF-16 with a byte order mark too (what Windows PowerShell 5's ``>`` writes).
- DER: one certificate, the ``.cer`` that ``Export-Certificate`` writes.
- PKCS#7: a ``.p7b``'s SignedData, DER or PEM.
- PKCS#12: a ``.pfx``/``.p12``, opened with the caller's password. Its private key is
  dropped the moment cryptography's loader returns it: never returned, printed,
  logged or kept; nor is the password.

The leaf is the certificate whose key is not a CA's: basicConstraints cA false, or
none and no keyCertSign and, if self-issued, nothing in the file issued by it (a v1
root that issued one is a CA; Exchange's own self-signed certificate is a leaf). Of
several, the one nothing in the file is issued by; then a PKCS#12 key's own; still
several, or none, is an error. The others are the chain, from the leaf up by
issuer and subject (AKI keyIdentifier against SKI where both exist, RFC 5280
4.2.1.1), the rest after. Each problem is one :class:`CertificateFileError` line
naming the file: the CLI's exit 2.
"""

from __future__ import annotations

import base64
import binascii
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TypeVar

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.serialization import Encoding, pkcs7, pkcs12

from exporter.textsafe import terminal_safe

MAX_BYTES = 4 * 1024 * 1024  # a PEM bundle of a whole system store is about 220 KB
NOT_A_CERTIFICATE_FILE = "not a certificate file (none of PEM, DER, PKCS#7, PKCS#12)"

# RFC 7468 section 2: labels are printable ASCII; a PKCS#7 may also say CMS.
_PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 #]+)-----(.*?)-----END \1-----", re.DOTALL)
_CERTIFICATE_LABELS = {"CERTIFICATE", "X509 CERTIFICATE", "PKCS7", "PKCS #7 SIGNED DATA", "CMS"}
_SIGNED_DATA = bytes.fromhex("06092a864886f70d010702")  # OID 1.2.840.113549.1.7.2
_PFX_VERSION_3 = bytes.fromhex("020103")  # RFC 7292 section 4: PFX starts with version 3

_Extension = TypeVar("_Extension", bound=x509.ExtensionType)


class CertificateFormat(StrEnum):
    """What the file was (PEM-armoured PKCS#7 counts as PKCS#7)."""

    PEM = "pem"
    DER = "der"
    PKCS7 = "pkcs7"
    PKCS12 = "pkcs12"


# A file's format, its certificates, and the certificate a PKCS#12 key belongs to.
_Loaded = tuple[CertificateFormat, list[x509.Certificate], x509.Certificate | None]


class CertificateFileError(ValueError):
    """One line: the file's name and what is wrong with it."""


@dataclass(frozen=True)
class CertificateFile:
    """A certificate file's certificates, and nothing secret. Attributes:
    leaf: the server certificate (see the module docstring's rule).
    chain: the file's and ``extra_chain``'s other certificates, each once, from the
        leaf's issuer up, then the ones off that path; empty for a lone leaf.
    format: what the file itself was (not its ``extra_chain`` files).
    has_key: the file held the leaf's private key (a PKCS#12 with its key), which
        ``Import-ExchangeCertificate`` can install on any server; the key itself is
        not kept.
    """

    leaf: x509.Certificate
    chain: tuple[x509.Certificate, ...]
    format: CertificateFormat
    has_key: bool = False


def read_certificate_file(
    path: Path, password: bytes | None = None, extra_chain: Sequence[Path] = ()
) -> CertificateFile:
    """The leaf and chain of ``path``; ``extra_chain`` files (any format, the same
    password) add chain certificates only. Raises :class:`CertificateFileError`."""
    form, certs, keyed = _load(path, password)
    leaf = _pick_leaf(path, certs, keyed)
    pool = [*certs, *(cert for extra in extra_chain for cert in _load(extra, password)[1])]
    others = [cert for cert in dict.fromkeys(pool) if cert != leaf]
    has_key = form is CertificateFormat.PKCS12 and keyed == leaf
    return CertificateFile(leaf, _order_chain(leaf, others), form, has_key)


def der_chain(certfile: CertificateFile) -> tuple[bytes, ...]:
    """Leaf first, then the chain, in DER: the presented chain a probe result carries."""
    return tuple(cert.public_bytes(Encoding.DER) for cert in (certfile.leaf, *certfile.chain))


def _error(path: Path, problem: str) -> CertificateFileError:
    return CertificateFileError(f"{terminal_safe(str(path))}: {problem}")


def _load(path: Path, password: bytes | None) -> _Loaded:
    """The file's format, its certificates (each once, in file order) and the one a
    PKCS#12 key belongs to."""
    data, keyed = _read(path), None
    if _PEM_BLOCK.search(data):
        form, certs = _decode_pem(path, data)
    elif _sequence_body(data).startswith(_PFX_VERSION_3):
        form, certs, keyed = _decode_pkcs12(path, data, password)
    else:
        form, certs = _decode_der(data)
        if not certs and form is CertificateFormat.PKCS7:
            raise _error(path, "a PKCS#7 file with no certificate that decodes")
        if not certs:
            raise _error(path, NOT_A_CERTIFICATE_FILE)
    return form, list(dict.fromkeys(certs)), keyed


def _read(path: Path) -> bytes:
    try:
        with Path(path).open("rb") as stream:
            data = stream.read(MAX_BYTES + 1)
    except OSError as exc:
        raise _error(path, f"cannot read it: {exc.strerror or exc}") from None
    if not data:
        raise _error(path, f"empty file, {NOT_A_CERTIFICATE_FILE}")
    if len(data) > MAX_BYTES:
        raise _error(path, f"larger than {MAX_BYTES} bytes, {NOT_A_CERTIFICATE_FILE}")
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):  # then anything but ASCII is not PEM
        data = data.decode("utf-16", "replace").encode("ascii", "replace")
    return data


def _decode_pem(path: Path, data: bytes) -> tuple[CertificateFormat, list[x509.Certificate]]:
    form, certs, skipped = CertificateFormat.PEM, [], []
    for number, block in enumerate(_PEM_BLOCK.finditer(data), start=1):
        label = block.group(1).decode()
        if label not in _CERTIFICATE_LABELS:
            skipped.append(label)  # a key or a request: never decoded
            continue
        try:
            der = base64.b64decode(block.group(2))
        except binascii.Error:
            der = b""
        inner, found = _decode_der(der)
        if not found:
            raise _error(path, f"PEM block {number} ({label}) does not decode")
        form = CertificateFormat.PKCS7 if inner is CertificateFormat.PKCS7 else form
        certs += found
    if not certs:
        raise _error(path, f"a PEM file with no certificate (it holds {', '.join(skipped)})")
    return form, certs


def _decode_der(der: bytes) -> tuple[CertificateFormat, list[x509.Certificate]]:
    """A DER certificate or PKCS#7 SignedData; no certificates if it does not decode."""
    signed_data = _sequence_body(der).startswith(_SIGNED_DATA)
    try:
        if signed_data:  # openssl crl2pkcs7 writes an unsorted SET OF: BER, read with a warning
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", "PKCS#7 certificates could not be parsed as DER")
                return CertificateFormat.PKCS7, pkcs7.load_der_pkcs7_certificates(der)
        return CertificateFormat.DER, [x509.load_der_x509_certificate(der)]
    except ValueError:
        return (CertificateFormat.PKCS7 if signed_data else CertificateFormat.DER), []


def _decode_pkcs12(path: Path, data: bytes, password: bytes | None) -> _Loaded:
    if password is not None and b"\0" in password:
        # cryptography's Rust panics on a NUL, and its panic message is the password.
        raise _error(path, "the password holds a NUL character (a UTF-16 file?)")
    try:
        key, cert, additional = pkcs12.load_key_and_certificates(data, password)
    except UnsupportedAlgorithm as exc:
        raise _error(path, f"a PKCS#12 file this OpenSSL cannot open: {exc}") from None
    except ValueError:
        # OpenSSL tells a wrong MAC password and damaged data apart to no one.
        if password is None:
            raise _error(path, "a PKCS#12 file that needs a password") from None
        raise _error(path, "wrong password for this PKCS#12 file (or it is damaged)") from None
    del key  # the private key is dropped here, unread: preflight judges certificates
    if cert is None and not additional:
        raise _error(path, "a PKCS#12 file with no certificate")
    return CertificateFormat.PKCS12, [*([cert] if cert else []), *additional], cert


def _sequence_body(der: bytes) -> bytes:
    """What follows an outer DER SEQUENCE's tag and length (b"" if it is not one)."""
    if len(der) < 2 or der[0] != 0x30:
        return b""
    length_octets = der[1] - 0x80 if der[1] & 0x80 else 0
    return der[2 + length_octets :] if 0 <= length_octets <= 4 else b""


def _extension(cert: x509.Certificate, kind: type[_Extension]) -> _Extension | None:
    try:
        return cert.extensions.get_extension_for_class(kind).value
    except (x509.ExtensionNotFound, ValueError):  # absent, or malformed (duplicated)
        return None


def _issued(child: x509.Certificate, parent: x509.Certificate) -> bool:
    """Whether ``parent`` is named as ``child``'s issuer (a different certificate)."""
    if child == parent or child.issuer != parent.subject:
        return False
    aki = _extension(child, x509.AuthorityKeyIdentifier)
    ski = _extension(parent, x509.SubjectKeyIdentifier)
    if aki is None or aki.key_identifier is None or ski is None:
        return True
    return aki.key_identifier == ski.digest


def _is_ca(cert: x509.Certificate, certs: Sequence[x509.Certificate]) -> bool:
    if (constraints := _extension(cert, x509.BasicConstraints)) is not None:
        return constraints.ca
    if (usage := _extension(cert, x509.KeyUsage)) is not None and usage.key_cert_sign:
        return True
    return cert.issuer == cert.subject and any(_issued(other, cert) for other in certs)


def _pick_leaf(
    path: Path, certs: Sequence[x509.Certificate], keyed: x509.Certificate | None
) -> x509.Certificate:
    leaves = [cert for cert in certs if not _is_ca(cert, certs)]
    if not leaves:
        raise _error(path, f"no leaf: only CA certificates ({len(certs)}), no server's")
    issuing = [leaf for leaf in leaves if any(_issued(other, leaf) for other in certs)]
    leaves = [leaf for leaf in leaves if leaf not in issuing] or leaves
    if len(leaves) > 1 and keyed in leaves:
        return keyed  # the PKCS#12 key's own certificate is the one Exchange binds
    if len(leaves) > 1:
        raise _error(path, f"{len(leaves)} leaves found (certificates that are not CAs)")
    return leaves[0]


def _order_chain(
    leaf: x509.Certificate, others: Sequence[x509.Certificate]
) -> tuple[x509.Certificate, ...]:
    rest, path = list(others), [leaf]
    while path[-1].issuer != path[-1].subject:  # a self-issued certificate ends the path
        issuer = next((cert for cert in rest if _issued(path[-1], cert)), None)
        if issuer is None:
            break
        rest.remove(issuer)
        path.append(issuer)
    return (*path[1:], *rest)
