"""How a failed request becomes an osml error: which class, which words.

`cluster_error(exc, ...)` turns an opensearch-py exception into a ClusterError,
TransientClusterError or ClusterNotFoundError with the server's status, error `type` and
reason. `error_class(...)` is the classification table, and `is_consistency_refusal(...)`
names the refusals of §10 that a retry cures because the server's view lags a change that
already happened. Called by `calling`, `state` and `locking`; never sees a request body,
and passes every server reason through the caller's `scrub` hook before it is kept.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from opensearchpy import exceptions as os_exc

from reconciler.errors import (
    ClusterError,
    ClusterNotFoundError,
    TransientClusterError,
    truncate,
)

Scrub = Callable[[str], str]
"""Removes secret values from a server reason before it reaches an exception."""

TRANSIENT_STATUSES = frozenset({429, 502, 503, 504})
"""Throttling and gateway failures: the request was not acted on, retrying is safe."""

_CONSISTENCY_REFUSALS: tuple[tuple[frozenset[int], re.Pattern[str]], ...] = (
    # §2.10: connector delete while a model doc still references it. A model deleted a
    # moment ago is still found by the server's search: 500 on 2.9-2.11, 409 from 2.12.
    (
        frozenset({409, 500}),
        re.compile(r"models are still using this connector, please delete or update"),
    ),
    # §2.9: connector update while a model using it is cached on the node; the cache
    # lags an undeploy. 500 on 2.11, 400 from 2.12.
    (
        frozenset({400, 500}),
        re.compile(r"models are still using this connector, please undeploy"),
    ),
    # §5.7: group delete while a model is in it; 500 up to 2.18, 409 from 2.19.
    (
        frozenset({409, 500}),
        re.compile(r"Cannot delete the model group when it has associated model versions"),
    ),
    # §6.11: model delete right after an undeploy whose state write has not landed.
    (
        frozenset({400, 500}),
        re.compile(r"Model cannot be deleted in deploying or deployed state"),
    ),
    # §6.8: update while a deploy is still running.
    (frozenset({409}), re.compile(r"Model is deploying\. Please wait")),
    # §6.8: the index was updated but some node caches were not; the server says retry.
    (frozenset({500}), re.compile(r"update model cache was failed on following nodes")),
)

_OLD_NOT_FOUND = re.compile(r"Fail(ed)? to find (connector|model|task)\b(?! to update)")
"""Not-found answers of 2.9-2.11, sent as 400 or 500 before 2.12 switched to 404 (§2.7, §1.3)."""


def keep(reason: str) -> str:
    """The default scrub: the reason unchanged."""
    return reason


def is_consistency_refusal(status: int | None, reason: str) -> bool:
    """Whether the server refused because its view lags a change that already happened.

    These are the eventual-consistency refusals of reference §10 (delete connector or
    group still "in use" by a model just deleted, model still "deployed" just after an
    undeploy, a deploy still running); the same request usually succeeds moments later.
    A refusal that persists fails once the caller's retries run out.
    """
    return any(
        status in statuses and pattern.search(reason) for statuses, pattern in _CONSISTENCY_REFUSALS
    )


def error_class(status: int | None, error_type: str | None, reason: str) -> type[ClusterError]:
    """The osml error class for a server answer: transient, not-found or permanent."""
    if status in TRANSIENT_STATUSES or is_consistency_refusal(status, reason):
        return TransientClusterError
    if error_type == "version_conflict_engine_exception":
        # An ML Commons write raced another on the same document (group latest_version,
        # §6.5); our own state-index conflicts are handled before reaching here.
        return TransientClusterError
    if status == 404 or (status in (400, 500) and _OLD_NOT_FOUND.match(reason)):
        return ClusterNotFoundError
    return ClusterError


def cluster_error(
    exc: os_exc.OpenSearchException, *, subject: str, action: str, scrub: Scrub = keep
) -> ClusterError:
    """The osml error for an opensearch-py exception, ready to `raise ... from exc`."""
    if isinstance(exc, os_exc.SerializationError):
        # Its text holds the data that failed to (de)serialise: possibly a request body.
        return ClusterError(f"{subject}: {action} failed: a body could not be serialised")
    if isinstance(exc, os_exc.SSLError):
        reason = scrub(_cause_text(exc))
        return ClusterError(f"{subject}: {action} failed (TLS): {truncate(reason)}", reason=reason)
    if isinstance(exc, os_exc.ConnectionError):
        reason = scrub(_cause_text(exc))
        what = "timed out" if isinstance(exc, os_exc.ConnectionTimeout) else "failed (no answer)"
        return TransientClusterError(
            f"{subject}: {action} {what}: {truncate(reason)}", reason=reason
        )
    assert isinstance(exc, os_exc.TransportError)
    status = exc.status_code if isinstance(exc.status_code, int) else None
    error_type, raw_reason = server_reason(exc.info, fallback=exc.error)
    reason = scrub(raw_reason)
    cls = error_class(status, error_type, reason)
    message = f"{subject}: {action} failed ({status or 'N/A'}): {truncate(reason)}"
    return cls(message, status=status, error_type=error_type, reason=reason)


def server_reason(info: Any, *, fallback: Any = None) -> tuple[str | None, str]:
    """The error `type` and `reason` of an OpenSearch error body (§1.3)."""
    if isinstance(info, Mapping):
        error = info.get("error")
        if isinstance(error, Mapping):
            reason = error.get("reason")
            if isinstance(error.get("details"), str) and error["details"]:
                # ML Commons' own error body (agent execute, CONS §4.8): `reason` only says
                # "Invalid Request" or "System Error"; `details` is the message.
                reason = error["details"]
            if reason is None:
                causes = error.get("root_cause") or [{}]
                reason = causes[0].get("reason") if isinstance(causes[0], Mapping) else None
            kind = error.get("type")
            return (str(kind) if kind else None, str(reason or kind or "unknown error"))
        if isinstance(error, str):
            return (None, error)
    if isinstance(info, str) and info.strip():
        return (None, info.strip())
    return (None, str(fallback) if fallback else "unknown error")


def _cause_text(exc: os_exc.TransportError) -> str:
    # For connection errors opensearch-py keeps the urllib3 exception in `info`.
    cause = exc.info if isinstance(exc.info, Exception) else exc.error
    return str(cause)
