"""POST /interventions/{id}/claim, release, assign, approve, reject, cancel,
complete: a person's action on an intervention (and what it does to the
job it gates: an approved job is queued); POST /interventions/{id}/comments:
a comment on its audit trail."""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body

from oversight.api import api_handler, build_resolver, current_principal, json_response
from oversight.config import JobQueueSettings, TableSettings, require_settings
from oversight.gates import decide
from oversight.interventions import comment_on_intervention
from oversight.lifecycle import Action
from oversight.models import (
    AssignRequest,
    Comment,
    CommentRequest,
    DecisionRequest,
    EmptyRequest,
    Intervention,
    ReasonRequest,
)

REQUIRED = require_settings("decide_intervention", TableSettings, JobQueueSettings)
app = build_resolver()

NoBody = Annotated[EmptyRequest | None, Body()]
OptionalReason = Annotated[ReasonRequest | None, Body()]


def change(id: str, action: Action, reason: str | None = None, response: Any = None) -> Response[Intervention]:
    return json_response(200, decide(current_principal(app), id, action, reason, response))


@app.operation("POST /interventions/{id}/claim")
def claim(id: str, body: NoBody = None) -> Response[Intervention]:
    return change(id, Action.CLAIM)


@app.operation("POST /interventions/{id}/release")
def release(id: str, body: NoBody = None) -> Response[Intervention]:
    return change(id, Action.RELEASE)


@app.operation("POST /interventions/{id}/approve")
def approve(id: str, body: DecisionRequest) -> Response[Intervention]:
    return change(id, Action.APPROVE, body.reason, body.response)


@app.operation("POST /interventions/{id}/reject")
def reject(id: str, body: DecisionRequest) -> Response[Intervention]:
    return change(id, Action.REJECT, body.reason, body.response)


@app.operation("POST /interventions/{id}/cancel")
def cancel(id: str, body: OptionalReason = None) -> Response[Intervention]:
    return change(id, Action.CANCEL, body.reason if body else None)


@app.operation("POST /interventions/{id}/complete")
def complete(id: str, body: OptionalReason = None) -> Response[Intervention]:
    return change(id, Action.COMPLETE, body.reason if body else None)


@app.operation("POST /interventions/{id}/assign")
def assign(id: str, body: AssignRequest) -> Response[Intervention]:
    return json_response(200, decide(current_principal(app), id, Action.ASSIGN, assignee=body.user))


@app.operation("POST /interventions/{id}/comments")
def comment(id: str, body: CommentRequest) -> Response[Comment]:
    return json_response(201, comment_on_intervention(current_principal(app), id, body.text))


lambda_handler = api_handler(app)
