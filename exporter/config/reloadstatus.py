"""A reload's outcome where people look: whether the last reload of the config file
(``POST /-/reload`` or SIGHUP) took effect, and when it did not, its problems (file,
line and key, as ``ConfigError`` carries them) and since when the exporter has kept
the last good config in force. service/refresher.py keeps one; render/html.py (the
banner) and render/json.py (``reload``) show it; the metrics read ``ok`` and
``loaded_at``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass

from exporter.config.yamlsource import ConfigError, Problem


@dataclass(frozen=True)
class ReloadStatus:
    """Attributes:
    file: the config file reloads read.
    loaded_at: when the config in force was loaded (at start, or by the last
        reload that succeeded).
    problems: the last reload's problems, in the file's order; empty once a
        reload succeeds (and before any is tried).
    failing_since: when reloads began to fail: the first of an unbroken run of
        failed reloads, so a second typo does not reset it; None while the last
        reload succeeded (or none was tried).
    last_attempt: when a reload was last tried; None before the first.
    """

    file: str
    loaded_at: dt.datetime
    problems: tuple[Problem, ...] = ()
    failing_since: dt.datetime | None = None
    last_attempt: dt.datetime | None = None

    @property
    def ok(self) -> bool:
        return self.failing_since is None

    def failed(self, error: ConfigError, now: dt.datetime) -> ReloadStatus:
        """The status after a reload that raised ``error``: the old config stays."""
        return dataclasses.replace(
            self,
            file=error.filename,
            problems=tuple(error.problems),
            failing_since=self.failing_since or now,
            last_attempt=now,
        )

    def succeeded(self, now: dt.datetime) -> ReloadStatus:
        return ReloadStatus(self.file, now, (), None, now)

    def lines(self) -> list[str]:
        """Each problem as ``file:line: key: message``, as the CLI prints it."""
        return [p.render(self.file) for p in self.problems]
