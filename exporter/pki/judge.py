"""Judge every distinct presented chain of a refresh once, fetching what it needs.

Endpoints that present the same chain (a server's URLs, a namespace's servers)
share one :class:`~exporter.evaluate.chain.ChainJudgement`; the fetch cache is
shared across chains and refreshes, so a warm refresh fetches nothing.

However slow the peers, this stage ends in time: each fetch ends within its
section's ``timeout`` (connect to last byte), at most ``max_urls`` of a
certificate's URLs are tried, a chain's AIA fetches share ``aia.chain_budget``
and its revocation fetches ``revocation.chain_budget`` (each from its first
fetch), and every fetch of the refresh ends within the two budgets' sum from the
stage's start, so a chain that waited for a thread gets what is left rather than
a budget of its own. Distinct chains are judged in a few daemon threads: the
refresh waits for them (bounded, as above), but a stopping process does not, as
it would for an executor's workers.
"""

from __future__ import annotations

import datetime as dt
import queue
import threading
import time
from collections.abc import Callable, Iterable

from exporter.certfacts import CertificateFacts
from exporter.config.schema import FetchConfig
from exporter.evaluate import revocation as rev
from exporter.evaluate.chain import (
    ChainJudgement,
    ChainKey,
    Fetch,
    FetchKind,
    chain_key,
    judge_chain,
)
from exporter.pki.fetch import Fetcher
from exporter.truststore import TrustStore

DAY = 86400.0
HOUR = 3600.0
# What one fetch may bring: a CA certificate or bundle, a CRL (AD CS CRLs of a
# large enterprise reach a few MB), an OCSP response.
LIMITS = {
    FetchKind.CA_ISSUERS: (1 << 20, DAY),
    FetchKind.CRL: (16 << 20, DAY),
    FetchKind.OCSP: (64 << 10, HOUR),
}
WORKERS = 8

Chain = tuple[CertificateFacts, ...]


def judge_chains(
    chains: Iterable[Chain],
    store: TrustStore,
    now: dt.datetime,
    fetcher: Fetcher | None,
    aia: FetchConfig,
    revocation: FetchConfig,
) -> dict[ChainKey, ChainJudgement]:
    """``aia`` and ``revocation``: the config's sections (on or off, their bounds)."""
    distinct = {chain_key(c): c for c in chains if c}
    spend = (aia.chain_budget if aia.enabled else 0.0) + (
        revocation.chain_budget if revocation.enabled else 0.0
    )
    stage_end = time.monotonic() + spend

    def one(chain: Chain) -> ChainJudgement:
        fetch = _chain_fetch(fetcher, aia, revocation, stage_end) if fetcher is not None else None
        return judge_chain(
            chain,
            store,
            now,
            fetch,
            aia=aia.enabled,
            revocation=revocation.enabled,
            max_urls=(aia.max_urls, revocation.max_urls),
        )

    if fetcher is None or len(distinct) <= 1:
        return {key: one(chain) for key, chain in distinct.items()}
    return dict(zip(distinct, _in_threads(one, list(distinct.values())), strict=True))


def _in_threads(
    one: Callable[[Chain], ChainJudgement], chains: list[Chain]
) -> list[ChainJudgement]:
    """``one`` over ``chains`` in up to WORKERS daemon threads, in order."""
    todo: queue.SimpleQueue[int] = queue.SimpleQueue()
    for index in range(len(chains)):
        todo.put(index)
    judged: dict[int, ChainJudgement | BaseException] = {}

    def work() -> None:
        while True:
            try:
                index = todo.get_nowait()
            except queue.Empty:
                return
            try:
                judged[index] = one(chains[index])
            except BaseException as exc:  # noqa: BLE001 - raised below, in the caller's thread
                judged[index] = exc

    threads = [
        threading.Thread(target=work, name=f"pki-{n}", daemon=True)
        for n in range(min(WORKERS, len(chains)))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    results = [judged[index] for index in range(len(chains))]
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return [r for r in results if isinstance(r, ChainJudgement)]


_GOOD_UNTIL = {FetchKind.CRL: rev.crl_next_update, FetchKind.OCSP: rev.ocsp_next_update}


def _chain_fetch(
    fetcher: Fetcher, aia: FetchConfig, revocation: FetchConfig, stage_end: float
) -> Fetch:
    """One chain's fetches, each section's within its ``chain_budget`` from its
    first fetch, and all by ``stage_end``."""
    ends: dict[str, float] = {}

    def fetch(url: str, kind: FetchKind, post: bytes | None) -> tuple[bytes | None, str | None]:
        name, section = ("aia", aia) if kind is FetchKind.CA_ISSUERS else ("revocation", revocation)
        if name not in ends:
            ends[name] = min(time.monotonic() + section.chain_budget, stage_end)
        max_bytes, max_age = LIMITS[kind]
        fetched = fetcher.fetch(
            url,
            max_bytes=max_bytes,
            max_age=max_age,
            timeout=section.timeout,
            deadline=ends[name],
            budget=f"{name}.chain_budget ({section.chain_budget:g}s for the chain)",
            post=post,
            content_type="application/ocsp-request",
            good_until=_GOOD_UNTIL.get(kind),
        )
        return fetched.body, fetched.error

    return fetch
