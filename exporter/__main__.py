"""Entry point for ``python -m exporter``: the same CLI as the console script.

Guarded: probe worker processes (``probe.processes``) start with "forkserver",
which imports the parent's __main__ module and must not run the CLI again.
"""

from __future__ import annotations

import sys

from exporter.cli import main

if __name__ == "__main__":
    sys.exit(main())
