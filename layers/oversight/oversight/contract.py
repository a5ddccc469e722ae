"""The documented side of the HTTP contract: every operation of the API (its
id, tag, summary and the responses it can give, so the generated OpenAPI
document lists every status a caller may see), keyed by its route as
template.yaml routes it, and the generated document itself, served by
GET /openapi.json.

A function binds its handlers to these entries (`@app.operation("GET
/jobs/{id}")`, oversight.api); what a handler takes (path, query, body)
stays in its signature. `make openapi` writes the document from the
functions' routes and models (local_runtime/openapi.py); this module only
reads the copy shipped in the layer, so serving it costs no schema
generation at run time."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse, OpenAPIResponseHeader

from oversight.models import ErrorBody

DOCUMENT = "openapi.json"
# The API speaks JSON only, in both directions.
JSON = "application/json"

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
_RETRY_AFTER: dict[str, OpenAPIResponseHeader] = {
    "Retry-After": {
        "description": "Seconds to wait before retrying",
        "schema": {"type": "integer", "minimum": 0},
    }
}
_REPLAYED: dict[str, OpenAPIResponseHeader] = {
    "Idempotent-Replayed": {
        "description": "`true` when this is the stored answer to an earlier request with the same"
        " Idempotency-Key and body; absent on the first answer",
        "schema": {"type": "string", "enum": ["true"]},
    }
}
_EVERY_AUTHENTICATED_ROUTE = (401, 403, 422, 500, 503)


def responses(
    status: int, description: str, *errors: int, public: bool = False, replayable: bool = False
) -> dict[int, OpenAPIResponse]:
    """The route's success status (its body is the handler's return type)
    and its error statuses: those of every authenticated route (only 500 for
    a public one) plus `errors`, each with the spec's error body. A
    `replayable` route (Idempotency-Key) declares the replay header."""
    documented: dict[int, OpenAPIResponse] = {status: {"description": description}}
    if replayable:
        documented[status]["headers"] = _REPLAYED
    for code in sorted({*((500,) if public else _EVERY_AUTHENTICATED_ROUTE), *errors}):
        documented[code] = {"description": _ERRORS[code], "content": {JSON: {"model": ErrorBody}}}
        if code == 503:
            documented[code]["headers"] = _RETRY_AFTER
    return documented


_ETAG: dict[str, OpenAPIResponseHeader] = {
    "ETag": {
        "description": "The record's version as an entity tag: it changes with every change of the record",
        "schema": {"type": "string"},
    }
}


def conditional(documented: dict[int, OpenAPIResponse]) -> dict[int, OpenAPIResponse]:
    """A record's GET: its 200 carries the ETag, and a 304 (no body) answers
    an If-None-Match that names the current one."""
    documented[200]["headers"] = _ETAG
    documented[304] = {"description": "Not Modified: the ETag in If-None-Match is current; no body", "headers": _ETAG}
    return dict(sorted(documented.items()))


@dataclass(frozen=True)
class Operation:
    """What the OpenAPI document says of one route, besides its parameters."""

    operation_id: str
    tag: str
    summary: str
    responses: dict[int, OpenAPIResponse]


def _decision(action: str, summary: str) -> Operation:
    return Operation(
        f"{action}Intervention",
        "interventions",
        summary,
        responses(200, "The intervention after the change", 404, 409, 413),
    )


# Every route of the API, by its route key ("METHOD /path/{param}", as in
# template.yaml), grouped by the function that serves it.
OPERATIONS: dict[str, Operation] = {
    # health
    "GET /health": Operation("getHealth", "service", "Liveness", responses(200, "The service is up", public=True)),
    "GET /openapi.json": Operation(
        "getOpenApiDocument", "service", "This OpenAPI document", responses(200, "OpenAPI 3.1", public=True)
    ),
    # create_intervention
    "POST /interventions": Operation(
        "createIntervention",
        "interventions",
        "Raise an intervention request",
        responses(
            201, "Created (or the first response, replayed for the same Idempotency-Key)", 409, 413, replayable=True
        ),
    ),
    # decide_intervention
    "POST /interventions/{id}/claim": _decision("claim", "Claim (assign to the caller)"),
    "POST /interventions/{id}/release": _decision("release", "Release back to the queue"),
    "POST /interventions/{id}/approve": _decision("approve", "Approve with a reason"),
    "POST /interventions/{id}/reject": _decision("reject", "Reject with a reason"),
    "POST /interventions/{id}/cancel": _decision("cancel", "Withdraw (creator or admin)"),
    "POST /interventions/{id}/complete": _decision("complete", "Report the approved action done (creator or admin)"),
    "POST /interventions/{id}/assign": _decision("assign", "Hand it to a user (admin, or the assignee delegating)"),
    "POST /interventions/{id}/comments": Operation(
        "commentIntervention",
        "interventions",
        "Comment on the audit trail (any state; the status stays)",
        responses(201, "The comment as the trail keeps it", 404, 409, 413),
    ),
    # read_interventions
    "GET /interventions": Operation(
        "listInterventions",
        "interventions",
        "The queue: pending by priority then age; other statuses newest first",
        responses(200, "A page of interventions"),
    ),
    "GET /interventions/{id}": Operation(
        "getIntervention",
        "interventions",
        "One intervention (ETag; If-None-Match → 304)",
        conditional(responses(200, "The intervention, with its ETag", 404)),
    ),
    "GET /interventions/{id}/events": Operation(
        "listInterventionEvents",
        "interventions",
        "Audit trail, oldest first",
        responses(200, "A page of the changes, oldest first", 404),
    ),
    # read_stats
    "GET /stats": Operation(
        "getStats",
        "stats",
        "Dashboard figures, all-time for the tenant",
        responses(200, "Intervention and job figures"),
    ),
    "GET /stats/daily": Operation(
        "getDailyStats",
        "stats",
        "Per-day figures, oldest first, every day present",
        responses(200, "One entry per day"),
    ),
    # read_jobs
    "GET /tools": Operation(
        "listTools",
        "jobs",
        "The tools jobs can run, with their parameters' JSON Schema",
        responses(200, "Every registered tool"),
    ),
    "GET /jobs": Operation("listJobs", "jobs", "Jobs, newest first", responses(200, "A page of jobs")),
    "GET /jobs/{id}": Operation(
        "getJob",
        "jobs",
        "One job, with its result and presigned output URLs (ETag; If-None-Match → 304)",
        conditional(responses(200, "The job, with its ETag", 404)),
    ),
    "GET /jobs/{id}/logs": Operation(
        "listJobLogs", "jobs", "The job's log lines, oldest first", responses(200, "A page of log lines", 404)
    ),
    # submit_job
    "POST /jobs": Operation(
        "submitJob",
        "jobs",
        "Run a tool asynchronously, optionally behind an approval",
        responses(202, "Accepted: queued, awaiting approval, or answered from the cache", 409, 413, replayable=True),
    ),
    "POST /jobs/{id}/cancel": Operation(
        "cancelJob",
        "jobs",
        "Cancel (a running job stops cooperatively)",
        responses(200, "The job after the request", 404, 409, 413),
    ),
    # manage_webhooks
    "POST /webhooks": Operation(
        "createWebhook",
        "webhooks",
        "Subscribe a URL to events (admin); the answer holds the signing secret, shown only here",
        responses(201, "The subscription, with its secret", 413),
    ),
    "GET /webhooks": Operation(
        "listWebhooks",
        "webhooks",
        "The tenant's subscriptions, oldest first, with their last delivery (admin; no secrets)",
        responses(200, "Every subscription"),
    ),
    "DELETE /webhooks/{id}": Operation(
        "deleteWebhook", "webhooks", "Unsubscribe (admin)", responses(204, "Deleted: no more deliveries", 404)
    ),
}


@cache
def openapi_document() -> dict[str, Any]:
    """The OpenAPI document shipped with the layer, read once per environment."""
    return json.loads(resources.files("oversight").joinpath(DOCUMENT).read_text(encoding="utf-8"))
