"""Every client's verdict, not only Outlook's: the client families that reach
Exchange and the rules each applies to a certificate (pure).

Outlook for Windows is the most lenient client an organisation has; after a
certificate change the tickets also come from iPhones, Macs and browsers, which
judge the same certificate by stricter rules. Each family is judged on the
endpoints whose component it uses; ``accepts`` is None where the certificate was
not judged.

Rules, with their sources:

- ``outlook``: today's checks, unchanged: the name matches, the issuer is trusted,
  the date is valid (CryptoAPI and SChannel, evaluate/trust.py).
- ``apple`` (Apple support article 103769, "Requirements for trusted certificates
  in iOS 13 and macOS 10.15"; article 102028, "About upcoming limits on trusted
  certificates"), for every TLS server certificate whatever its root:
  the host must be in the subjectAltName, never only in the CN (``no_san``);
  SHA-2 signatures on the leaf and the issuing CAs, never SHA-1
  (``weak_signature``); RSA keys of at least 2048 bits (``weak_key``). For a
  leaf whose notBefore is on or after 2019-07-01: an EKU with serverAuth
  (``no_server_auth_eku``) and a validity of at most 825 days
  (``validity_too_long``); on or after 2020-09-01 under a public root, at most
  398 days. The trust, date and name checks are Outlook's: an enterprise root
  must reach Apple devices too (an MDM profile), which the exporter cannot see.
  Whether Apple clients fetch a missing intermediate over AIA is not confirmed,
  so no rule says so (``chain_complete`` already warns that phones may fail).
- ``browser`` (Chromium: Edge and Chrome): the host only in the CN is
  ERR_CERT_COMMON_NAME_INVALID since Chrome 58 (chromestatus 4981025180483584);
  SHA-1 on the leaf or an issuing CA is refused (measured: Chromium 156 under an
  enterprise root, ../shared/CLIENTS.md, and tests/test_client_chromium.py's
  Chromium run); from 2020-09-01 a leaf under a public root valid for more than
  398 days is ERR_CERT_VALIDITY_TOO_LONG (Chromium's
  net/docs/certificate_lifetimes.md). RSA-1024, a missing EKU and any validity
  under an enterprise root load.

Not modelled (rules vary by version and app, no single source): Android mail
apps, Firefox and Thunderbird (NSS).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from exporter.certfacts import CertificateFacts
from exporter.evaluate.names import covers
from exporter.evaluate.outcome import Check, Outcome, Reason
from exporter.model import Component


class Family(StrEnum):
    OUTLOOK = "outlook"
    APPLE = "apple"
    BROWSER = "browser"


# ../shared/CLIENTS.md's table: the components each family uses (internal URLs).
DEFAULT_COMPONENTS: dict[Family, frozenset[Component]] = {
    Family.OUTLOOK: frozenset(
        {
            Component.AUTODISCOVER,
            Component.EWS,
            Component.OAB,
            Component.MAPI,
            Component.OUTLOOK_ANYWHERE,
            Component.UM,
        }
    ),
    Family.APPLE: frozenset(
        {
            Component.EAS,
            Component.AUTODISCOVER,
            Component.EWS,
            Component.OWA,
            Component.ECP,
            Component.IMAP,
            Component.POP,
            Component.SMTP_SUBMISSION,
        }
    ),
    Family.BROWSER: frozenset({Component.OWA, Component.ECP}),
}

APPLE_EKU_AND_825_FROM = dt.datetime(2019, 7, 1, tzinfo=dt.UTC)
PUBLIC_398_FROM = dt.datetime(2020, 9, 1, tzinfo=dt.UTC)
APPLE_MAX_DAYS = 825
PUBLIC_MAX_DAYS = 398


WHO = {
    Family.OUTLOOK: "Outlook for Windows",
    Family.APPLE: "iPhones, iPads and Macs (apple)",
    Family.BROWSER: "Edge and Chrome (browser)",
}


@dataclass(frozen=True)
class ClientVerdict:
    """Whether a family accepts the certificate; ``reasons`` the rules it refuses
    it by (``no_san``, ``weak_signature``, ...), or Outlook's failing checks."""

    accepts: bool | None
    reasons: tuple[Outcome, ...] = ()


@dataclass(frozen=True)
class ChainTraits:
    """What the client rules read of the built chain: its hygiene findings
    (``weak_signature``, ``weak_key``) and whether it ends at a public root."""

    weaknesses: tuple[Outcome, ...]
    public_root: bool


def families_for(
    component: Component, families: Mapping[Family, frozenset[Component]]
) -> list[Family]:
    return [family for family, used in families.items() if component in used]


def evaluate_clients(
    component: Component,
    host: str,
    leaf: CertificateFacts | None,
    checks: Mapping[Check, Outcome],
    chain: ChainTraits,
    families: Mapping[Family, frozenset[Component]],
) -> dict[str, ClientVerdict]:
    """Each enabled family that uses ``component``: its verdict on the certificate."""
    out: dict[str, ClientVerdict] = {}
    for family in families_for(component, families):
        if leaf is None:
            out[family.value] = ClientVerdict(None)
            continue
        base = _outlook(checks)
        if family is Family.OUTLOOK or base.accepts is None:
            out[family.value] = base
            continue
        rules = _apple(leaf, host, chain) if family is Family.APPLE else _browser(leaf, host, chain)
        reasons = base.reasons + rules
        out[family.value] = ClientVerdict(not reasons, reasons)
    return out


def _outlook(checks: Mapping[Check, Outcome]) -> ClientVerdict:
    outcomes = [checks[c] for c in (Check.NAME_MATCH, Check.ISSUER_TRUSTED, Check.DATE_VALID)]
    if any(o.ok is None for o in outcomes):
        return ClientVerdict(None)
    failed = tuple(o for o in outcomes if o.ok is False)
    return ClientVerdict(not failed, failed)


def _cn_only(leaf: CertificateFacts, host: str) -> tuple[Outcome, ...]:
    if leaf.has_san or not covers(leaf, host):
        return ()
    return (
        Outcome.failed(
            Reason.NO_SAN,
            f"{host} is only in the certificate's common name; the client looks at the "
            "subject alternative names alone",
        ),
    )


def _weak(chain: ChainTraits, codes: tuple[Reason, ...]) -> tuple[Outcome, ...]:
    return tuple(w for w in chain.weaknesses if w.reason in codes)


def _apple(leaf: CertificateFacts, host: str, chain: ChainTraits) -> tuple[Outcome, ...]:
    found = [*_cn_only(leaf, host), *_weak(chain, (Reason.WEAK_SIGNATURE, Reason.WEAK_KEY))]
    days = _days(leaf)
    if leaf.not_before >= APPLE_EKU_AND_825_FROM:
        if not _server_auth(leaf):
            found.append(
                Outcome.failed(
                    Reason.NO_SERVER_AUTH_EKU,
                    "the certificate has no extended key usage with serverAuth, which Apple "
                    "requires of certificates issued since 2019-07-01",
                )
            )
        if days > APPLE_MAX_DAYS:
            found.append(_too_long(days, APPLE_MAX_DAYS, "2019-07-01, whatever the root"))
    if leaf.not_before >= PUBLIC_398_FROM and chain.public_root and days > PUBLIC_MAX_DAYS:
        found.append(_too_long(days, PUBLIC_MAX_DAYS, "2020-09-01 under a public root"))
    return tuple(found)


def _browser(leaf: CertificateFacts, host: str, chain: ChainTraits) -> tuple[Outcome, ...]:
    found = [*_cn_only(leaf, host), *_weak(chain, (Reason.WEAK_SIGNATURE,))]
    days = _days(leaf)
    if leaf.not_before >= PUBLIC_398_FROM and chain.public_root and days > PUBLIC_MAX_DAYS:
        found.append(_too_long(days, PUBLIC_MAX_DAYS, "2020-09-01 under a public root"))
    return tuple(found)


def _days(leaf: CertificateFacts) -> float:
    return (leaf.not_after - leaf.not_before).total_seconds() / 86400


def _too_long(days: float, limit: int, since: str) -> Outcome:
    return Outcome.failed(
        Reason.VALIDITY_TOO_LONG,
        f"the certificate is valid for {days:.0f} days, more than the {limit} allowed "
        f"for certificates issued since {since}",
    )


def _server_auth(leaf: CertificateFacts) -> bool:
    try:
        usage = (
            x509.load_der_x509_certificate(leaf.der)
            .extensions.get_extension_for_class(x509.ExtendedKeyUsage)
            .value
        )
    except (x509.ExtensionNotFound, ValueError):
        return False
    return ExtendedKeyUsageOID.SERVER_AUTH in usage


def clients_outcome(clients: Mapping[str, ClientVerdict]) -> Outcome:
    """The endpoint's ``client_rejects``: a family beyond Outlook refuses a
    certificate Outlook's checks pass (where they fail, the checks already say so,
    critical); passed when every judged family accepts it, not judged when none was."""
    refusing = [
        (Family(name), verdict)
        for name, verdict in clients.items()
        if name != Family.OUTLOOK
        and verdict.accepts is False
        and not any(r.reason in _OUTLOOK_CHECKS for r in verdict.reasons)
    ]
    rules = [
        (family, [r for r in verdict.reasons if r.reason not in _OUTLOOK_CHECKS])
        for family, verdict in refusing
    ]
    by_rules: dict[tuple[str, ...], list[Family]] = {}
    for family, found in rules:
        if found:
            by_rules.setdefault(tuple(r.message or "" for r in found), []).append(family)
    if by_rules:
        said = "; ".join(
            f"{' and '.join(WHO[f] for f in families)} refuse it: {', '.join(messages)}"
            for messages, families in by_rules.items()
        )
        return Outcome.failed(Reason.CLIENT_REJECTS, said)
    if any(v.accepts is not None for v in clients.values()):
        return Outcome.passed()
    return Outcome.not_judged()


# Reasons that are Outlook's checks too: not a client's own rule.
_OUTLOOK_CHECKS = frozenset(
    {
        Reason.NAME_MISMATCH,
        Reason.SELF_SIGNED,
        Reason.UNTRUSTED_ROOT,
        Reason.UNKNOWN_ISSUER,
        Reason.INCOMPLETE_CHAIN,
        Reason.INVALID_CHAIN,
        Reason.WRONG_USAGE,
        Reason.EXPIRED,
        Reason.NOT_YET_VALID,
    }
)
