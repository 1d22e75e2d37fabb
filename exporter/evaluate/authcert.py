"""The auth metadata document -> the organisation's Auth certificate(s) (pure).

Microsoft documents the document at ``https://SERVER/autodiscover/metadata/json/1``
as holding "the public part of the access token authentication certificate"
(the SharePoint and Lync server-to-server pages); the document family's shape is
``{"keys": [{"usage": "signing", "keyinfo": {"x5t": ...}, "keyvalue": {"type":
"x509Certificate", "value": "<base64 DER>"}}]}``. That Exchange's matches it exactly
is unconfirmed, so the parse is defensive: the JWKS shape (``keys[].x5c[0]``) is
read too and said so, anything else is ignored, and a document with no certificate
is a reason, never an exception.

Which certificate is in use: the document carries no effective date, and a current
and a next certificate may both be listed during a rotation. Exchange switches to
the next at its effective date, so the one in use is taken to be the newest whose
validity has begun (a published next certificate means the rotation is under way,
not an outage); every listed certificate is still reported.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from dataclasses import dataclass

from exporter.certfacts import CertificateFacts, parse_certificate
from exporter.evaluate.outcome import Outcome, Reason
from exporter.probe.results import DocumentResult, TlsReason


@dataclass(frozen=True)
class AuthDocument:
    """What the document said.

    Attributes:
        probe: ``probe_ok``'s outcome: passed (with a note on an unusual shape) or
            failed with the reason.
        certificates: every certificate listed, in document order.
        in_use: the one judged; None without any.
    """

    probe: Outcome
    certificates: tuple[CertificateFacts, ...] = ()
    in_use: CertificateFacts | None = None


def read_auth_document(document: DocumentResult, now: dt.datetime) -> AuthDocument:
    where = f"{document.address}:{document.port}"
    if document.transport is not TlsReason.OK:
        return AuthDocument(
            Outcome.failed(Reason(document.transport.value), f"{where}: {document.detail}")
        )
    if document.body is None:
        return AuthDocument(
            Outcome.failed(
                Reason.AUTH_METADATA_UNAVAILABLE,
                f"{where}: the auth metadata document could not be read: {document.detail}",
            )
        )
    try:
        data = json.loads(document.body)
    except (ValueError, UnicodeDecodeError) as exc:
        return AuthDocument(
            Outcome.failed(
                Reason.AUTH_METADATA_UNAVAILABLE,
                f"{where}: the auth metadata document is not JSON ({type(exc).__name__})",
            )
        )
    certificates, shapes = _certificates(data)
    if not certificates:
        return AuthDocument(
            Outcome.failed(
                Reason.NO_AUTH_CERTIFICATE,
                f"{where}: the auth metadata document lists no x509Certificate signing key",
            )
        )
    note = None
    if shapes - {"keyvalue"}:
        note = "read from keys[].x5c, not the keys[].keyvalue shape the document family documents"
    return AuthDocument(Outcome(True, None, note), certificates, in_use(certificates, now))


def in_use(certificates: tuple[CertificateFacts, ...], now: dt.datetime) -> CertificateFacts:
    """The newest certificate whose validity has begun; else the latest to expire."""
    begun = [c for c in certificates if c.not_before <= now]
    if begun:
        return max(begun, key=lambda c: (c.not_before, c.not_after))
    return max(certificates, key=lambda c: c.not_after)


def _certificates(data: object) -> tuple[tuple[CertificateFacts, ...], set[str]]:
    keys = data.get("keys") if isinstance(data, dict) else None
    found: dict[str, CertificateFacts] = {}
    shapes: set[str] = set()
    for key in keys if isinstance(keys, list) else []:
        if not isinstance(key, dict):
            continue
        value, shape = _der_text(key)
        facts = parse_certificate(_b64(value)) if value else None
        if facts is not None and facts.fingerprint_sha256 not in found:
            found[facts.fingerprint_sha256] = facts
            shapes.add(shape)
    return tuple(found.values()), shapes


def _der_text(key: dict[str, object]) -> tuple[str | None, str]:
    keyvalue = key.get("keyvalue")
    if isinstance(keyvalue, dict) and str(keyvalue.get("type", "")).lower() == "x509certificate":
        value = keyvalue.get("value")
        if isinstance(value, str):
            return value, "keyvalue"
    chain = key.get("x5c")
    if isinstance(chain, list) and chain and isinstance(chain[0], str):
        return chain[0], "x5c"
    return None, ""


def _b64(text: str) -> bytes:
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        return b""
