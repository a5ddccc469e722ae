"""claim, release, approve, reject, cancel, complete an intervention."""

from collections.abc import Callable
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body

from oversight.api import api_handler, build_resolver, current_principal, json_response
from oversight.contract import responses
from oversight.interventions import transition_intervention
from oversight.lifecycle import Action
from oversight.models import DecisionRequest, EmptyRequest, Intervention, ReasonRequest

app = build_resolver()

NoBody = Annotated[EmptyRequest | None, Body()]
OptionalReason = Annotated[ReasonRequest | None, Body()]


def route(action: Action, summary: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return app.post(
        f"/interventions/<id>/{action}",
        operation_id=f"{action}Intervention",
        tags=["interventions"],
        summary=summary,
        responses=responses(200, "The intervention after the change", 404, 409, 413),
    )


def change(id: str, action: Action, reason: str | None = None, response: Any = None) -> Response[Intervention]:
    return json_response(200, transition_intervention(current_principal(app), id, action, reason, response))


@route(Action.CLAIM, "Claim (assign to the caller)")
def claim(id: str, body: NoBody = None) -> Response[Intervention]:
    return change(id, Action.CLAIM)


@route(Action.RELEASE, "Release back to the queue")
def release(id: str, body: NoBody = None) -> Response[Intervention]:
    return change(id, Action.RELEASE)


@route(Action.APPROVE, "Approve with a reason")
def approve(id: str, body: DecisionRequest) -> Response[Intervention]:
    return change(id, Action.APPROVE, body.reason, body.response)


@route(Action.REJECT, "Reject with a reason")
def reject(id: str, body: DecisionRequest) -> Response[Intervention]:
    return change(id, Action.REJECT, body.reason, body.response)


@route(Action.CANCEL, "Withdraw (creator or admin)")
def cancel(id: str, body: OptionalReason = None) -> Response[Intervention]:
    return change(id, Action.CANCEL, body.reason if body else None)


@route(Action.COMPLETE, "Report the approved action done (creator or admin)")
def complete(id: str, body: OptionalReason = None) -> Response[Intervention]:
    return change(id, Action.COMPLETE, body.reason if body else None)


lambda_handler = api_handler(app)
