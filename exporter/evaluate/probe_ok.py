"""The ``probe_ok`` check: what the probe's result says about reaching the server
(pure). A skipped probe, an internal error, a handshake's failure reason."""

from __future__ import annotations

from exporter.evaluate.outcome import Outcome, Reason
from exporter.probe.results import DnsReason, ProbeResult, SkipReason, TlsReason

_SKIP_MESSAGES = {
    SkipReason.BAD_URL: (Reason.BAD_URL, "the URL cannot be used: {error}"),
    SkipReason.NO_URL: (
        Reason.NO_INTERNAL_URL,
        "no InternalUrl is set: internal clients fall back to the ExternalUrl or fail",
    ),
    SkipReason.PLAIN_HTTP: (
        Reason.PLAIN_HTTP,
        "plain http: no certificate is involved, but the traffic is not encrypted",
    ),
    SkipReason.SERVER_ADDRESS_UNKNOWN: (
        Reason.SERVER_ADDRESS_UNKNOWN,
        "neither the server's address nor the URL's host resolves",
    ),
}


def probe_outcome(probe: ProbeResult) -> Outcome:
    if probe.internal_error is not None:
        return Outcome.failed(Reason.INTERNAL_ERROR, f"the probe failed: {probe.internal_error}")
    if probe.skipped is not None:
        reason, text = _SKIP_MESSAGES[probe.skipped]
        message = text.format(error=probe.endpoint.url_error)
        if probe.skipped in (SkipReason.PLAIN_HTTP, SkipReason.NO_URL):
            return Outcome.not_judged(reason, message)
        if probe.skipped is SkipReason.SERVER_ADDRESS_UNKNOWN and _unanswered(probe):
            # The internal DNS did not answer: the server may be fine (one finding
            # for the nameservers says so), so the probe is not judged, not failed.
            return Outcome.not_judged(
                reason, f"{message}: the internal DNS did not answer, so nothing was probed"
            )
        return Outcome.failed(reason, message)
    if probe.document is not None:
        return Outcome.passed()  # the document's own outcome: _auth_verdict
    assert probe.tls is not None  # noqa: S101 - not skipped implies a handshake attempt
    if probe.tls.reason is TlsReason.OK:
        return Outcome.passed()
    where = f"{probe.tls.address}:{probe.tls.port}"
    return Outcome.failed(Reason(probe.tls.reason.value), f"{where}: {probe.tls.detail}")


def _unanswered(probe: ProbeResult) -> bool:
    answers = (probe.server_dns, probe.url_dns)
    return any(a is not None and a.reason in (DnsReason.TIMEOUT, DnsReason.ERROR) for a in answers)
