"""claim, release, approve, reject, cancel, complete an intervention."""

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body

from oversight.api import api_handler, build_resolver, current_principal, json_response
from oversight.contract import responses
from oversight.interventions import transition_intervention
from oversight.lifecycle import Action
from oversight.models import Intervention, DecisionRequest, EmptyRequest, ReasonRequest

app = build_resolver()
TRANSITION = responses(200, "The intervention after the change", 404, 409, 413)

NoBody = Annotated[EmptyRequest | None, Body()]
OptionalReason = Annotated[ReasonRequest | None, Body()]


@app.post(
    "/interventions/<id>/claim",
    operation_id="claimIntervention",
    summary="Claim (assign to the caller)",
    tags=["interventions"],
    responses=TRANSITION,
)
def claim(id: str, body: NoBody = None) -> Response[Intervention]:
    return json_response(200, transition_intervention(current_principal(app), id, Action.CLAIM))


@app.post(
    "/interventions/<id>/release",
    operation_id="releaseIntervention",
    summary="Release back to the queue",
    tags=["interventions"],
    responses=TRANSITION,
)
def release(id: str, body: NoBody = None) -> Response[Intervention]:
    return json_response(200, transition_intervention(current_principal(app), id, Action.RELEASE))


@app.post(
    "/interventions/<id>/approve",
    operation_id="approveIntervention",
    summary="Approve with a reason",
    tags=["interventions"],
    responses=TRANSITION,
)
def approve(id: str, body: DecisionRequest) -> Response[Intervention]:
    decided = transition_intervention(current_principal(app), id, Action.APPROVE, body.reason, body.response)
    return json_response(200, decided)


@app.post(
    "/interventions/<id>/reject",
    operation_id="rejectIntervention",
    summary="Reject with a reason",
    tags=["interventions"],
    responses=TRANSITION,
)
def reject(id: str, body: DecisionRequest) -> Response[Intervention]:
    decided = transition_intervention(current_principal(app), id, Action.REJECT, body.reason, body.response)
    return json_response(200, decided)


@app.post(
    "/interventions/<id>/cancel",
    operation_id="cancelIntervention",
    summary="Withdraw (creator or admin)",
    tags=["interventions"],
    responses=TRANSITION,
)
def cancel(id: str, body: OptionalReason = None) -> Response[Intervention]:
    reason = body.reason if body else None
    return json_response(200, transition_intervention(current_principal(app), id, Action.CANCEL, reason))


@app.post(
    "/interventions/<id>/complete",
    operation_id="completeIntervention",
    summary="Report the approved action done (creator or admin)",
    tags=["interventions"],
    responses=TRANSITION,
)
def complete(id: str, body: OptionalReason = None) -> Response[Intervention]:
    reason = body.reason if body else None
    return json_response(200, transition_intervention(current_principal(app), id, Action.COMPLETE, reason))


lambda_handler = api_handler(app)
