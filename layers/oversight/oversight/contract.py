"""The documented side of the HTTP contract: the responses each route can
give (so the generated OpenAPI document lists every status a caller may
see), and the generated document itself, served by GET /openapi.json.

`make openapi` writes the document from the functions' routes and models
(local_runtime/openapi.py); this module only reads the copy shipped in the
layer, so serving it costs no schema generation at run time."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from oversight.api import JSON
from oversight.models import ErrorBody

DOCUMENT = "openapi.json"

_ERRORS: dict[int, str] = {
    401: "`unauthorized`: no token, or one that is invalid or expired. Behind API Gateway the JWT"
    ' authorizer answers this itself, with the body `{"message": "Unauthorized"}`.',
    403: "`forbidden`: the caller's roles do not allow this, or the token names no tenant.",
    404: "`not_found`: no such record in the caller's tenant (another tenant's record is never 403).",
    409: "`invalid_transition`, `expired` or `conflict`: the record's state does not allow this now"
    " (or the same Idempotency-Key is still in flight).",
    413: "`payload_too_large`: the request body exceeds 64 KiB.",
    422: "`validation_error` (malformed JSON too; `details` names each field) or `idempotency_key_reused`.",
    500: "`internal_error`: no stack trace; the message carries a correlation id to find the logs.",
    503: "`service_unavailable`: a dependency is throttled or briefly unavailable and nothing was"
    " written; retry after the `Retry-After` header's seconds.",
}
_RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before retrying",
        "schema": {"type": "integer", "minimum": 0},
    }
}
_REPLAYED = {
    "Idempotent-Replayed": {
        "description": "`true` when this is the stored answer to an earlier request with the same"
        " Idempotency-Key and body; absent on the first answer",
        "schema": {"type": "string", "enum": ["true"]},
    }
}
_EVERY_AUTHENTICATED_ROUTE = (401, 403, 422, 500, 503)


def responses(
    status: int, description: str, *errors: int, public: bool = False, replayable: bool = False
) -> dict[int, dict[str, Any]]:
    """The route's success status (its body is the handler's return type)
    and its error statuses: those of every authenticated route (only 500 for
    a public one) plus `errors`, each with the spec's error body. A
    `replayable` route (Idempotency-Key) declares the replay header."""
    documented: dict[int, dict[str, Any]] = {status: {"description": description}}
    if replayable:
        documented[status]["headers"] = _REPLAYED
    for code in sorted({*((500,) if public else _EVERY_AUTHENTICATED_ROUTE), *errors}):
        documented[code] = {"description": _ERRORS[code], "content": {JSON: {"model": ErrorBody}}}
        if code == 503:
            documented[code]["headers"] = _RETRY_AFTER
    return documented


@cache
def openapi_document() -> dict[str, Any]:
    """The OpenAPI document shipped with the layer, read once per environment."""
    return json.loads(resources.files("oversight").joinpath(DOCUMENT).read_text(encoding="utf-8"))
