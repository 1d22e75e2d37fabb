"""Per-test certificates: the lab's PKI (exporter/lab/pki.py), re-exported for tests."""

from exporter.lab.pki import CA, DAY, NOW, Issued, self_signed

__all__ = ["CA", "DAY", "NOW", "Issued", "self_signed"]
