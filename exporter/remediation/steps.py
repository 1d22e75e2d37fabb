"""The remediation vocabulary: a step, and what kind of step it is."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class StepKind(StrEnum):
    COMMAND = "command"  # an Exchange Management Shell command, complete
    IIS = "iis"  # recycle the Autodiscover application pool
    DNS = "dns"  # an internal DNS record
    ADVICE = "advice"  # an action that needs a human choice (which CA, which file)


@dataclass(frozen=True)
class Step:
    """One remediation step: ``text`` is complete and runnable for COMMAND, IIS, DNS.

    Attributes:
        guard: for a step that fails when run twice (adding a DNS record), a
            PowerShell expression that is true once it is done; the .ps1 runs the
            step only while it is false. None for steps safe to repeat.
    """

    kind: StepKind
    text: str
    comment: str
    guard: str | None = None
