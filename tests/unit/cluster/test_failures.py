"""How failed requests are classified and worded (reference §1.3, §10)."""

from __future__ import annotations

import pytest
from opensearchpy import exceptions as os_exc

from reconciler.cluster.failures import cluster_error, error_class, is_consistency_refusal
from reconciler.errors import ClusterError, ClusterNotFoundError, TransientClusterError

STILL_USED = (
    "1 models are still using this connector, please delete or update the models first: [m1]"
)


@pytest.mark.parametrize(
    ("status", "error_type", "reason", "expected"),
    [
        (429, "status_exception", "Request is throttled at model level.", TransientClusterError),
        (502, None, "Bad Gateway", TransientClusterError),
        (503, None, "Service Unavailable", TransientClusterError),
        (504, None, "Gateway Timeout", TransientClusterError),
        (409, "status_exception", STILL_USED, TransientClusterError),
        (500, "m_l_validation_exception", STILL_USED, TransientClusterError),
        (
            400,
            "status_exception",
            "1 models are still using this connector, please undeploy the models first: [m]",
            TransientClusterError,
        ),
        (
            409,
            "status_exception",
            "Cannot delete the model group when it has associated model versions",
            TransientClusterError,
        ),
        (
            500,
            "m_l_validation_exception",
            "Cannot delete the model group when it has associated model versions",
            TransientClusterError,
        ),
        (
            400,
            "status_exception",
            "Model cannot be deleted in deploying or deployed state. Try undeploy model first",
            TransientClusterError,
        ),
        (
            409,
            "status_exception",
            "Model is deploying. Please wait for the model",
            TransientClusterError,
        ),
        (409, "version_conflict_engine_exception", "[x]: version conflict", TransientClusterError),
        (
            404,
            "status_exception",
            "Failed to find connector with the provided connector id: x",
            ClusterNotFoundError,
        ),
        (
            404,
            "index_not_found_exception",
            "no such index [.plugins-ml-model]",
            ClusterNotFoundError,
        ),
        (
            400,
            "illegal_argument_exception",
            "Failed to find connector with the provided connector id: x",
            ClusterNotFoundError,
        ),
        (500, "m_l_resource_not_found_exception", "Fail to find model", ClusterNotFoundError),
        (400, "illegal_argument_exception", "Connector name is null", ClusterError),
        (
            403,
            "status_exception",
            "You don't have permission to access this connector",
            ClusterError,
        ),
        (500, "illegal_state_exception", "Can't get text on a VALUE_NULL", ClusterError),
        # The same words with a status that does not fit are not a consistency refusal.
        (404, "status_exception", STILL_USED, ClusterNotFoundError),
    ],
)
def test_error_class(status: int, error_type: str | None, reason: str, expected: type) -> None:
    assert error_class(status, error_type, reason) is expected


@pytest.mark.parametrize(
    ("status", "reason", "expected"),
    [
        (409, STILL_USED, True),
        (500, STILL_USED, True),
        (400, "Connector URL is not matching the trusted connector endpoint regex", False),
        (409, "The name you provided is already being used by a model group with ID: x.", False),
        (None, STILL_USED, False),
    ],
)
def test_consistency_refusals(status: int | None, reason: str, expected: bool) -> None:
    assert is_consistency_refusal(status, reason) is expected


def _server_error(status: int, error_type: str, reason: str) -> os_exc.TransportError:
    body = {
        "error": {
            "root_cause": [{"type": error_type, "reason": reason}],
            "type": error_type,
            "reason": reason,
        },
        "status": status,
    }
    cls = os_exc.HTTP_EXCEPTIONS.get(status, os_exc.TransportError)
    return cls(status, error_type, body)


def test_message_starts_with_resource_then_action_then_reason() -> None:
    exc = _server_error(409, "status_exception", STILL_USED)
    error = cluster_error(exc, subject="Connector/openai-chat", action="delete")
    assert str(error) == f"Connector/openai-chat: delete failed (409): {STILL_USED}"
    assert (error.status, error.error_type, error.reason) == (409, "status_exception", STILL_USED)


def test_scrub_applies_before_the_reason_is_kept() -> None:
    exc = _server_error(400, "illegal_argument_exception", "bad key sk-SECRET-123 in body")
    error = cluster_error(
        exc,
        subject="Connector/x",
        action="create",
        scrub=lambda r: r.replace("sk-SECRET-123", "***"),
    )
    assert "sk-SECRET-123" not in str(error)
    assert "sk-SECRET-123" not in (error.reason or "")


def test_long_reasons_are_truncated() -> None:
    exc = _server_error(400, "illegal_argument_exception", "x" * 5000)
    error = cluster_error(exc, subject="Model/m", action="register")
    assert len(str(error)) < 700
    assert "more characters" in str(error)


@pytest.mark.parametrize(
    ("exc", "expected", "words"),
    [
        (
            os_exc.ConnectionError("N/A", "refused", ConnectionRefusedError("refused")),
            TransientClusterError,
            "no answer",
        ),
        (
            os_exc.ConnectionTimeout("TIMEOUT", "read timed out", TimeoutError("t")),
            TransientClusterError,
            "timed out",
        ),
        (os_exc.SSLError("N/A", "certificate verify failed", None), ClusterError, "TLS"),
    ],
)
def test_connection_failures(exc: os_exc.TransportError, expected: type, words: str) -> None:
    error = cluster_error(exc, subject="Connectors", action="search")
    assert type(error) is expected
    assert words in str(error)


def test_serialization_errors_never_show_the_body() -> None:
    exc = os_exc.SerializationError({"credential": {"key": "sk-live-1"}}, TypeError("nope"))
    error = cluster_error(exc, subject="Connector/x", action="create")
    assert "sk-live-1" not in str(error)


def test_non_json_error_body_is_the_reason() -> None:
    exc = os_exc.TransportError(502, "<html>bad gateway</html>", "<html>bad gateway</html>")
    error = cluster_error(exc, subject="Models", action="search")
    assert isinstance(error, TransientClusterError)
    assert "bad gateway" in str(error)


def test_the_ml_commons_error_body_reports_its_details() -> None:
    """Agent execute answers ML Commons' own body (CONS §4.8): `reason` is only `Invalid
    Request` or `System Error`; the message is `details`."""
    body = {
        "status": 400,
        "error": {
            "type": "IllegalArgumentException",
            "reason": "Invalid Request",
            "details": "no tool configured",
        },
    }
    exc = os_exc.RequestError(400, "IllegalArgumentException", body)
    error = cluster_error(exc, subject="Agent/helper", action="execute")
    assert str(error) == "Agent/helper: execute failed (400): no tool configured"
    assert (error.error_type, error.reason) == ("IllegalArgumentException", "no tool configured")
