"""What can go wrong: one hierarchy rooted in `OversightError` for the API's
answers, and `DecisionError` for the outcomes of waiting that are not an
approval.

The API's error body is `{"code", "message", "details"?}`; the class is
chosen by `code` (409 and 422 carry several), then by HTTP status when the
code is unknown or absent (API Gateway's own 401 is `{"message":
"Unauthorized"}`, with no code).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from oversight_client.models import Intervention, Job

_CORRELATION = re.compile(r"correlation id[:=]?\s+([A-Za-z0-9_.:-]+)", re.IGNORECASE)


class OversightError(Exception):
    """The API answered with an error (or, for `TransportError`, never answered).

    `status` is the HTTP status (0 when there was no answer), `code` the API's
    error code, `message` its sentence saying what to do, `details` its list
    (field errors of a 422), `correlation_id` the id a 500 or 503 names for
    finding the server's logs, `headers` the answer's headers.
    """

    status: int
    code: str

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: Sequence[Mapping[str, Any]] | None = None,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}" if status else f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details: list[dict[str, Any]] = [dict(item) for item in details or ()]
        self.headers: dict[str, str] = dict(headers or {})
        found = _CORRELATION.search(message)
        self.correlation_id: str | None = found.group(1).rstrip(".") if found else None

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only headers: pickling (multiprocessing, concurrent.futures) must pass them by name.
        return (_rebuild, (type(self), self.status, self.code, self.message, self.details, self.headers))


def _rebuild(
    cls: type[OversightError],
    status: int,
    code: str,
    message: str,
    details: list[dict[str, Any]],
    headers: dict[str, str],
) -> OversightError:
    error = OversightError.__new__(cls)
    OversightError.__init__(error, status, code, message, details, headers=headers)
    return error


class Unauthorized(OversightError):
    """401 `unauthorized`: no token, or an invalid or expired one (get a new token)."""


class Forbidden(OversightError):
    """403 `forbidden`: the token's roles do not allow this, or it names no tenant."""


class NotFound(OversightError):
    """404 `not_found`: no such record in the caller's tenant."""


class InvalidTransition(OversightError):
    """409 `invalid_transition`: the record's state does not allow this action."""


class RecordExpired(OversightError):
    """409 `expired`: the request's `expires_at` has passed; it can no longer be claimed or decided."""


class Conflict(OversightError):
    """409 `conflict`: a concurrent change won (or the same Idempotency-Key is still in flight)."""


class PayloadTooLarge(OversightError):
    """413 `payload_too_large`: the request body exceeds 64 KiB."""


class ValidationFailed(OversightError):
    """422 `validation_error`: `details` names each field that is wrong."""


class IdempotencyKeyReused(OversightError):
    """422 `idempotency_key_reused`: the same Idempotency-Key came with a different body."""


class InternalError(OversightError):
    """500 `internal_error`: `correlation_id` finds the server's logs."""


class ServiceUnavailable(OversightError):
    """503 `service_unavailable`, still so after the retries: try again later (`retry_after` seconds)."""

    @property
    def retry_after(self) -> float | None:
        from oversight_client.retries import parse_retry_after

        return parse_retry_after(self.headers.get("retry-after"))


class UnexpectedResponse(OversightError):
    """The API answered something this client cannot read (not JSON, or a record missing a field)."""


class TransportError(OversightError):
    """No answer: the connection was refused, reset or timed out, still so after the retries.

    `status` is 0 and `code` is `transport_error`; `__cause__` is the last
    network error.
    """

    def __init__(self, message: str) -> None:
        super().__init__(0, "transport_error", message)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.message,))


BY_CODE: dict[str, type[OversightError]] = {
    "unauthorized": Unauthorized,
    "forbidden": Forbidden,
    "not_found": NotFound,
    "invalid_transition": InvalidTransition,
    "expired": RecordExpired,
    "conflict": Conflict,
    "payload_too_large": PayloadTooLarge,
    "validation_error": ValidationFailed,
    "idempotency_key_reused": IdempotencyKeyReused,
    "internal_error": InternalError,
    "service_unavailable": ServiceUnavailable,
}

# For an unknown or missing code: the class of the status (409 and 422 have no single meaning, so none).
BY_STATUS: dict[int, type[OversightError]] = {
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    413: PayloadTooLarge,
    500: InternalError,
    503: ServiceUnavailable,
}

_STATUS_CODES = {
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    413: "payload_too_large",
    503: "service_unavailable",
}


def error_for(status: int, body: Any, headers: Mapping[str, str] | None = None) -> OversightError:
    """The error an answer with this status and (parsed JSON, or raw text) body stands for."""
    code = ""
    message = ""
    details: list[dict[str, Any]] = []
    if isinstance(body, Mapping):
        code = str(body.get("code") or "")
        message = str(body.get("message") or "")
        raw_details = body.get("details")
        if isinstance(raw_details, list):
            details = [item if isinstance(item, dict) else {"detail": item} for item in raw_details]
    elif isinstance(body, str):
        message = " ".join(body.split())[:500]
    cls = BY_CODE.get(code) or BY_STATUS.get(status) or OversightError
    if not code:
        code = _STATUS_CODES.get(status, "internal_error" if status >= 500 else "http_error")
    if not message:
        message = f"the API answered HTTP {status} without a message"
    return cls(status, code, message, details, headers=headers)


class DecisionError(Exception):
    """Waiting ended without the outcome asked for: rejected, expired, cancelled, or out of time."""

    intervention: Intervention | None

    def __init__(self, message: str, intervention: Intervention | None = None) -> None:
        super().__init__(message)
        self.intervention = intervention


class Rejected(DecisionError):
    """The request was rejected (`intervention.decided_by`, `intervention.decision_reason` say by whom and why)."""

    intervention: Intervention

    def __init__(self, intervention: Intervention) -> None:
        who = intervention.decided_by or "someone"
        why = f": {intervention.decision_reason}" if intervention.decision_reason else ""
        super().__init__(f"intervention {intervention.id} was rejected by {who}{why}", intervention)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.intervention,))


class Expired(DecisionError):
    """Nobody decided the request before its `expires_at`."""

    intervention: Intervention

    def __init__(self, intervention: Intervention) -> None:
        super().__init__(f"intervention {intervention.id} expired undecided at {intervention.expires_at}", intervention)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.intervention,))


class Cancelled(DecisionError):
    """The request was withdrawn (cancelled) before a decision."""

    intervention: Intervention

    def __init__(self, intervention: Intervention) -> None:
        by = f" by {intervention.decided_by}" if intervention.decided_by else ""
        super().__init__(f"intervention {intervention.id} was cancelled{by}", intervention)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.intervention,))


class WaitTimeout(DecisionError):
    """The timeout passed while still open; `intervention` (or `job`, for `wait_job`) is the last one seen."""

    def __init__(
        self, message: str, intervention: Intervention | None = None, job: Job | None = None, waited: float = 0.0
    ) -> None:
        super().__init__(message, intervention)
        self.job = job
        self.waited = waited

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (str(self), self.intervention, self.job, self.waited))
