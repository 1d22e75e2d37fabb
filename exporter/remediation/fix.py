"""A fix: one action of the plan, the steps that carry it out, and what it answers.

The steps run in this order across a server's section (``Step.order``): a
certificate is imported, then enabled, then named where a service picks it by name
and the service restarted; then DNS records; then URLs moved onto names the
certificate carries, and the app pools recycled; then the Auth certificate.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from exporter.remediation.steps import Finding, Step
from exporter.remediation.whatif import Action

EndpointKey = tuple[str, str, str]

IMPORT, ENABLE, NAME_IT, RESTART = 0, 1, 2, 3
RECORD = 10
MOVE, RECYCLE = 20, 21
ROTATE, ROTATE_POOLS = 30, 31


@dataclass(frozen=True)
class Fix:
    """Attributes:
    addresses: the findings the fix answers (the proof checks none is left).
    servers: the sections it stands in; endpoints: the endpoints it concerns.
    proven: False once the proof refused it (its steps are advice then).
    """

    action: Action
    steps: tuple[Step, ...]
    addresses: tuple[Finding, ...]
    servers: tuple[str, ...]
    endpoints: tuple[EndpointKey, ...]
    proven: bool = True

    def refused(self, why: str) -> Fix:
        return dataclasses.replace(
            self, steps=tuple(step.as_advice(why) for step in self.steps), proven=False
        )


def ordered(step: Step, order: int) -> Step:
    return dataclasses.replace(step, order=order)
