"""Domain errors. Each carries the HTTP status and the spec's error code, so
they are mapped to a response in exactly one place (oversight.api)."""

from __future__ import annotations

from typing import Any


class OversightError(Exception):
    status: int = 500
    code: str = "internal_error"

    def __init__(self, message: str, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    @property
    def headers(self) -> dict[str, str] | None:
        """Response headers the answer carries besides its body."""
        return None


class Unauthorized(OversightError):
    status, code = 401, "unauthorized"


class Forbidden(OversightError):
    status, code = 403, "forbidden"


class NotFound(OversightError):
    status, code = 404, "not_found"


class RecordNotFound(NotFound):
    """No record of this kind with the id asked for (or not the caller's
    tenant's). The message names the kind only, never the id: that is caller
    input, of any length and content, and an answer must not echo it."""

    record = "record"

    def __init__(self) -> None:
        super().__init__(f"No {self.record} with that id")


class InterventionNotFound(RecordNotFound):
    record = "intervention"


class InvalidTransition(OversightError):
    status, code = 409, "invalid_transition"


class InterventionExpired(OversightError):
    status, code = 409, "expired"


class Conflict(OversightError):
    status, code = 409, "conflict"


class PayloadTooLarge(OversightError):
    status, code = 413, "payload_too_large"


class ValidationFailed(OversightError):
    status, code = 422, "validation_error"

    @classmethod
    def field(cls, loc: list[str | int], msg: str, type_: str = "value_error") -> ValidationFailed:
        where = ".".join(str(part) for part in loc)
        return cls(f"Invalid request: {where}", [{"loc": loc, "msg": msg, "type": type_}])


class IdempotencyKeyReused(OversightError):
    status, code = 422, "idempotency_key_reused"


class VersionConflict(Exception):
    """A conditional write lost a race: the stored version is not the one read.
    Internal signal for the domain layer, which re-reads and re-evaluates."""


class RecordExists(Exception):
    """A create found its record already stored: a keyed create run again
    (oversight.idempotency.keyed_id). Internal signal for the domain layer."""


class ServiceUnavailable(OversightError):
    """A dependency (DynamoDB, SQS, S3) is throttling or failing and the
    client's own retries are spent. Nothing was committed: the caller may
    retry the same request after `retry_after_seconds`."""

    status, code = 503, "service_unavailable"

    def __init__(
        self, message: str, *, throttled: bool, retry_after_seconds: int = 1, operation: str = "", error_code: str = ""
    ) -> None:
        super().__init__(message)
        self.throttled = throttled
        self.retry_after_seconds = retry_after_seconds
        self.operation = operation
        self.error_code = error_code

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after_seconds)}
