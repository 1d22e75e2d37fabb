"""Per-test certificates: the lab's PKI (exporter/lab/pki.py), re-exported for tests."""

import ssl

from exporter.lab.pki import CA, DAY, NOW, Issued, self_signed

__all__ = ["CA", "DAY", "NOW", "Issued", "legacy", "self_signed"]


def legacy(context: ssl.SSLContext) -> None:
    """A TLS server tweak: security level 0, so OpenSSL serves RSA-1024 and SHA-1
    chains as old IIS servers do."""
    context.set_ciphers("DEFAULT:@SECLEVEL=0")
