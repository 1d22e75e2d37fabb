"""The remediation vocabulary: a step, what kind it is, and the findings it answers.

A step that runs is built from typed statements (remediation/command.py) and its
``text`` is what the one renderer wrote; a step whose statements hold a value that
is not valid for its parameter, or a placeholder only the admin can fill, is made
advice by :func:`run`, with the reason. Advice is prose from a code template
(:class:`~exporter.remediation.command.Prose`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from exporter.evaluate.verdict import EndpointVerdict
from exporter.remediation.command import (
    Condition,
    Prose,
    Statement,
    problems,
    render,
    render_guarded,
    render_script,
    shown,
)

# Where advice stands among a section's steps: after every proposed command
# (remediation/fix.py), even one the proof turned into advice.
ADVICE = 90


class StepKind(StrEnum):
    COMMAND = "command"  # an Exchange Management Shell command, complete
    IIS = "iis"  # recycle an application pool or restart a service
    DNS = "dns"  # an internal DNS record
    ADVICE = "advice"  # an action that needs a human choice (which CA, which file)


@dataclass(frozen=True)
class Finding:
    """One thing wrong with one endpoint: what a step answers and the what-if checks.

    Attributes:
        check: a check's name (``name_match``), ``expiry``, or ``advisory:<code>``.
        subject: for ``dns_match``, the name it is about: a URL moved onto another
            name that does not resolve to the server has a new finding, not the same.
    """

    server: str
    component: str
    url: str
    check: str
    subject: str = ""

    def __str__(self) -> str:
        return f"{self.server} {self.component} {self.check}"


def finding(verdict: EndpointVerdict, check: str, found: EndpointVerdict | None = None) -> Finding:
    """``check``'s finding on this endpoint, by its identity as the refresh found it
    (``found``, when ``verdict`` is the endpoint re-judged by the what-if)."""
    endpoint = (found or verdict).probe.endpoint
    target = verdict.probe.endpoint.target
    subject = target.host if check == "dns_match" and target is not None else ""
    return Finding(endpoint.server.name, endpoint.component.value, endpoint.url, check, subject)


@dataclass(frozen=True)
class Step:
    """One remediation step: ``text`` is complete and runnable for COMMAND, IIS, DNS.

    Attributes:
        guard: for a step that fails when run twice (adding a DNS record, importing
            a certificate), a PowerShell expression that is true once it is done; the
            .ps1 runs the step only while it is false. None for steps safe to repeat.
        script: the statements as data; None for advice.
        addresses: the findings this step answers (the what-if proves a command
            leaves none of them, and makes no new one).
        server: the server whose section runs it; None for a step of the
            organisation (a DNS record for a shared name, the Auth certificate).
        runs: ``text`` as the .ps1 runs it, behind its guard.
        order: where it runs among a section's commands (remediation/fix.py).
    """

    kind: StepKind
    text: str
    comment: str
    guard: str | None = None
    script: tuple[Statement, ...] | None = None
    addresses: tuple[Finding, ...] = ()
    server: str | None = None
    done: Condition | None = None
    order: int = 0

    @property
    def runs(self) -> str:
        if self.script is None:
            return self.text
        return render_guarded(self.script, self.done)

    def as_advice(self, why: str) -> Step:
        """This step, not proven or not valid as a command: advice saying why."""
        if self.kind is StepKind.ADVICE:
            return self
        text = Prose("Not written as a command ({}): review and run by hand: {}", (why, self.text))
        return replace(self, kind=StepKind.ADVICE, text=text.text(), script=None, done=None)

    def answering(self, findings: tuple[Finding, ...]) -> Step:
        return replace(self, addresses=findings)


def run(
    kind: StepKind,
    statements: tuple[Statement, ...],
    comment: str,
    *,
    done: Condition | None = None,
    addresses: tuple[Finding, ...] = (),
    server: str | None = None,
) -> Step:
    """A step that runs ``statements``, or advice when one of their values is not a
    valid instance of what its parameter takes."""
    found = [p for s in statements for p in problems(s)]
    if done is not None:
        found.extend(problems(done))
    step = Step(
        kind,
        render_script(statements),
        shown(comment),
        render(done) if done is not None else None,
        statements,
        addresses,
        server,
        done,
    )
    if found:
        return step.as_advice("; ".join(dict.fromkeys(found)))
    return step


def advise(
    template: str,
    *args: str | Statement,
    comment: str,
    addresses: tuple[Finding, ...] = (),
    server: str | None = None,
) -> Step:
    """Advice: prose from a code template, commands in it rendered as examples."""
    text = Prose(template, args).text()
    return Step(
        StepKind.ADVICE, text, shown(comment), addresses=addresses, server=server, order=ADVICE
    )
