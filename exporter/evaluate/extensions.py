"""Which critical extensions Windows processes: a certificate with a critical
extension CryptoAPI does not know is rejected (CERT_E_CRITICAL), one it knows is
never rejected for being critical. OpenSSL's list is shorter (it calls a critical
AKI, SKI or AIA "unhandled"), so the chain is verified with OpenSSL's
criticality check off and this one applied to the built path
(evaluate/trust.py ``windows_policy``).
"""

from __future__ import annotations

from cryptography import x509

# The extensions CryptoAPI's chain engine processes, so never a failure for being
# critical; any other critical extension is CERT_E_CRITICAL ("A certificate
# contains an unknown extension that is marked 'critical'", winerror.h;
# CERT_TRUST_HAS_NOT_SUPPORTED_CRITICAL_EXT, Microsoft Learn's CERT_TRUST_STATUS).
# The OIDs are wincrypt.h's szOID_* for each, the pre-RFC 3280 forms included.
WINDOWS_KNOWN = frozenset(
    {
        "2.5.29.35",  # authorityKeyIdentifier (szOID_AUTHORITY_KEY_IDENTIFIER2)
        "2.5.29.1",  # authorityKeyIdentifier, old form (szOID_AUTHORITY_KEY_IDENTIFIER)
        "2.5.29.14",  # subjectKeyIdentifier
        "1.3.6.1.5.5.7.1.1",  # authorityInfoAccess
        "2.5.29.31",  # cRLDistributionPoints
        "2.5.29.32",  # certificatePolicies
        "2.5.29.33",  # policyMappings
        "2.5.29.36",  # policyConstraints
        "2.5.29.54",  # inhibitAnyPolicy
        "2.5.29.30",  # nameConstraints
        "2.5.29.19",  # basicConstraints (szOID_BASIC_CONSTRAINTS2)
        "2.5.29.10",  # basicConstraints, old form (szOID_BASIC_CONSTRAINTS)
        "2.5.29.15",  # keyUsage
        "2.5.29.37",  # extKeyUsage
        "2.5.29.17",  # subjectAltName (szOID_SUBJECT_ALT_NAME2)
        "2.5.29.7",  # subjectAltName, old form (szOID_SUBJECT_ALT_NAME)
        "2.5.29.18",  # issuerAltName
    }
)


def unknown_critical(cert: x509.Certificate) -> list[str]:
    """The OIDs of ``cert``'s critical extensions CryptoAPI does not process."""
    try:
        extensions = list(cert.extensions)
    except ValueError:
        return []  # unparseable extensions: OpenSSL has judged the certificate already
    return [
        e.oid.dotted_string
        for e in extensions
        if e.critical and e.oid.dotted_string not in WINDOWS_KNOWN
    ]
