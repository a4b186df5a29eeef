"""The error answers of ML Commons, by the Java exception class the server would throw.

Every ML handler raises through these constructors so that the `type`/status pair of the
OpenSearch envelope always matches reference §1.3 (e.g. an `MLValidationException` is a 500
`m_l_validation_exception`, an `IllegalArgumentException` a 400). Version switches (500 before
2.12, 404/409/400 after) are decided by callers from the profile, never here.
This module only builds exceptions; it must not read the store.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from reconciler.sandbox.http import ApiError

if TYPE_CHECKING:
    from reconciler.sandbox.http import Request


def illegal_argument(reason: str) -> ApiError:
    """Java `IllegalArgumentException`: 400."""
    return ApiError(400, reason, error_type="illegal_argument_exception")


def status(code: int, reason: str) -> ApiError:
    """Java `OpenSearchStatusException(reason, code)`."""
    return ApiError(code, reason, error_type="status_exception")


def ml_validation(reason: str) -> ApiError:
    """`MLValidationException`, a plain RuntimeException: 500 (ml-commons issue #2958)."""
    return ApiError(500, reason, error_type="m_l_validation_exception")


def ml_not_found(reason: str) -> ApiError:
    """`MLResourceNotFoundException`, also a 500."""
    return ApiError(500, reason, error_type="m_l_resource_not_found_exception")


def ml_exception(reason: str) -> ApiError:
    """`MLException`: 500."""
    return ApiError(500, reason, error_type="m_l_exception")


def illegal_state(reason: str) -> ApiError:
    """Java `IllegalStateException`: 500."""
    return ApiError(500, reason, error_type="illegal_state_exception")


def io_failure(reason: str) -> ApiError:
    """Java `IOException` thrown while parsing a REST body: 500."""
    return ApiError(500, reason, error_type="i_o_exception")


def null_pointer(reason: str) -> ApiError:
    """Java `NullPointerException` from `Objects.requireNonNull`: 500."""
    return ApiError(500, reason, error_type="null_pointer_exception")


def parse_failure(reason: str) -> ApiError:
    """`OpenSearchParseException`: 400."""
    return ApiError(400, reason, error_type="parse_exception")


def validation_failed(*messages: str) -> ApiError:
    """`ActionRequestValidationException` from a request's `validate()`: 400."""
    numbered = "".join(f"{n}: {message};" for n, message in enumerate(messages, start=1))
    return ApiError(
        400, f"Validation Failed: {numbered}", error_type="action_request_validation_exception"
    )


def generic(reason: str) -> ApiError:
    """A plain Java `Exception` (no OpenSearch mapping): 500 `exception`."""
    return ApiError(500, reason, error_type="exception")


def method_not_allowed(request: Request, allowed: str) -> ApiError:
    """OpenSearch's answer when this release lacks the method on a known path (e.g. PUT on a
    connector before 2.11): 405 with the allowed methods in Java list format."""
    return ApiError(
        405,
        f"Incorrect HTTP method for uri [{request.path}] and method [{request.method}], "
        f"allowed: [{allowed}]",
        error_type="illegal_argument_exception",
    )
