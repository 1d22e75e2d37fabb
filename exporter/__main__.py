"""Entry point for ``python -m exporter``: the same CLI as the console script."""

from __future__ import annotations

import sys

from exporter.cli import main

sys.exit(main())
