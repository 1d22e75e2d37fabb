"""Entry point for ``python -m exporter``: the same CLI as the console script."""

from __future__ import annotations

import sys

from exporter.cli import main

if __name__ == "__main__":
    sys.exit(main())
