"""Building blocks of the lab's certificates: keys of any kind and size, the AIA and
CRL pointer extensions, and signing with digests cryptography's builder refuses.

cryptography refuses to sign with SHA-1, to write a v1 certificate or to make an
RSA key under 1024 bits, so those few are made through pyOpenSSL (:func:`_resign`,
:func:`make_key`), the lab's only use of its deprecated calls.
"""

from __future__ import annotations

import warnings

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import AuthorityInformationAccessOID
from OpenSSL import crypto

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey

CA_KEY_USAGE = x509.KeyUsage(
    digital_signature=True,
    content_commitment=False,
    key_encipherment=False,
    data_encipherment=False,
    key_agreement=False,
    key_cert_sign=True,
    crl_sign=True,
    encipher_only=False,
    decipher_only=False,
)


def make_key(kind: str = "ec") -> PrivateKey:
    """``ec`` (P-256) or ``rsaN`` (an RSA key of N bits, e.g. ``rsa1024``)."""
    if kind == "ec":
        return ec.generate_private_key(ec.SECP256R1())
    if kind.startswith("rsa"):
        bits = int(kind[3:])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            if bits < 1024:  # cryptography refuses to make a key this weak; OpenSSL does not
                weak = crypto.PKey()
                weak.generate_key(crypto.TYPE_RSA, bits)
                key = weak.to_cryptography_key()
                if not isinstance(key, rsa.RSAPrivateKey):
                    raise TypeError("OpenSSL made no RSA key")
                return key
            return rsa.generate_private_key(65537, bits)
    raise ValueError(f"unknown key kind {kind!r}")


def _uri_access(method: x509.ObjectIdentifier, url: str) -> x509.AccessDescription:
    return x509.AccessDescription(method, x509.UniformResourceIdentifier(url))


def pointers(
    builder: x509.CertificateBuilder,
    aia: str | None,
    ocsp: str | None,
    crl: str | None,
) -> x509.CertificateBuilder:
    """The AIA (caIssuers, OCSP) and CRL distribution point extensions."""
    access = []
    if ocsp:
        access.append(_uri_access(AuthorityInformationAccessOID.OCSP, ocsp))
    if aia:
        access.append(_uri_access(AuthorityInformationAccessOID.CA_ISSUERS, aia))
    if access:
        builder = builder.add_extension(x509.AuthorityInformationAccess(access), False)
    if crl:
        point = x509.DistributionPoint([x509.UniformResourceIdentifier(crl)], None, None, None)
        builder = builder.add_extension(x509.CRLDistributionPoints([point]), False)
    return builder


def _resign(
    cert: x509.Certificate, key: PrivateKey, digest: str, version1: bool = False
) -> x509.Certificate:
    """The same to-be-signed content signed with ``digest`` (``sha1``), optionally as
    a v1 certificate: shapes cryptography's builder refuses to make."""
    legacy = crypto.X509.from_cryptography(cert)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        if version1:
            legacy.set_version(0)
        legacy.sign(crypto.PKey.from_cryptography_key(key), digest)
    return legacy.to_cryptography()


def negate_serial(cert: x509.Certificate, issuer_key: PrivateKey) -> x509.Certificate:
    """The same certificate with a negative serial number (its first byte's high bit
    set), re-signed: RFC 5280 forbids it, Windows accepts it."""
    der = bytearray(cert.public_bytes(serialization.Encoding.DER))
    serial = cert.serial_number.to_bytes((cert.serial_number.bit_length() + 7) // 8, "big")
    der[der.index(serial)] |= 0x80
    legacy = crypto.load_certificate(crypto.FILETYPE_ASN1, bytes(der))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        legacy.sign(crypto.PKey.from_cryptography_key(issuer_key), "sha256")
    return legacy.to_cryptography()


def sign(
    builder: x509.CertificateBuilder, key: PrivateKey, digest: str, version1: bool = False
) -> x509.Certificate:
    """``digest``: ``sha256``; ``sha1`` (re-signed); ``pss20``, RSA-PSS with SHA-256 and
    a 20-byte salt (Windows accepts it; the Web PKI profile wants the hash length)."""
    if digest == "pss20":
        if not isinstance(key, rsa.RSAPrivateKey):
            raise TypeError("an RSA-PSS signature needs an RSA issuer key")
        pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=20)
        return builder.sign(key, hashes.SHA256(), rsa_padding=pss)
    cert = builder.sign(key, hashes.SHA256())
    if digest != "sha256" or version1:
        cert = _resign(cert, key, digest, version1)
    return cert


_SHA256_RSA = bytes.fromhex("2a864886f70d01010b")  # 1.2.840.113549.1.1.11, DER body
_SHA1_RSA = bytes.fromhex("2a864886f70d010105")  # 1.2.840.113549.1.1.5


def sha1_crl(crl_der: bytes, key: PrivateKey) -> bytes:
    """The same CRL signed with SHA-1, as AD CS CAs built before 2012 sign theirs
    (cryptography will not): both algorithm identifiers swapped, the signature
    remade over the new to-be-signed bytes. RSA keys only (same signature size)."""
    if not isinstance(key, rsa.RSAPrivateKey):
        raise TypeError("a SHA-1 lab CRL needs an RSA CA key")
    swapped = crl_der.replace(_SHA256_RSA, _SHA1_RSA)
    crl = x509.load_der_x509_crl(swapped)
    signature = key.sign(crl.tbs_certlist_bytes, padding.PKCS1v15(), hashes.SHA1())  # noqa: S303
    return swapped.replace(crl.signature, signature)
