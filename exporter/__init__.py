"""exchange-cert-exporter: finds the Exchange internal URLs that give domain-joined
Outlook clients the KB 940726 certificate warning, and says how to fix each one.

The package is one pipeline (see docs/ARCHITECTURE.md):
discover -> probe -> evaluate -> remediate -> render.
"""

from __future__ import annotations

__version__ = "0.1.0"
