"""Judge every distinct presented chain of a refresh once, fetching what it needs.

Endpoints that present the same chain (a server's URLs, a namespace's servers)
share one :class:`~exporter.evaluate.chain.ChainJudgement`; the fetch cache is
shared across chains and refreshes, so a warm refresh fetches nothing. Distinct
chains are judged in a few threads, so one hung CDP delays only the chains that
name it, by at most the fetch timeout per URL.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

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


def judge_chains(
    chains: Iterable[tuple[CertificateFacts, ...]],
    store: TrustStore,
    now: dt.datetime,
    fetcher: Fetcher | None,
    aia: FetchConfig,
    revocation: FetchConfig,
) -> dict[ChainKey, ChainJudgement]:
    """``aia`` and ``revocation``: the config's sections (on or off, fetch timeouts)."""
    distinct = {chain_key(c): c for c in chains if c}
    fetch = _fetch_with(fetcher, aia, revocation) if fetcher is not None else None

    def one(chain: tuple[CertificateFacts, ...]) -> ChainJudgement:
        return judge_chain(chain, store, now, fetch, aia=aia.enabled, revocation=revocation.enabled)

    if fetch is None or len(distinct) <= 1:
        return {key: one(chain) for key, chain in distinct.items()}
    with ThreadPoolExecutor(min(WORKERS, len(distinct)), "pki") as pool:
        judged = pool.map(one, distinct.values())
        return dict(zip(distinct, judged, strict=True))


_GOOD_UNTIL = {FetchKind.CRL: rev.crl_next_update, FetchKind.OCSP: rev.ocsp_next_update}


def _fetch_with(fetcher: Fetcher, aia: FetchConfig, revocation: FetchConfig) -> Fetch:
    def fetch(url: str, kind: FetchKind, post: bytes | None) -> tuple[bytes | None, str | None]:
        max_bytes, max_age = LIMITS[kind]
        timeout = aia.timeout if kind is FetchKind.CA_ISSUERS else revocation.timeout
        fetched = fetcher.fetch(
            url,
            max_bytes=max_bytes,
            max_age=max_age,
            timeout=timeout,
            post=post,
            content_type="application/ocsp-request",
            good_until=_GOOD_UNTIL.get(kind),
        )
        return fetched.body, fetched.error

    return fetch
