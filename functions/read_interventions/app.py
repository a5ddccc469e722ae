"""GET /interventions, /interventions/{id}, /interventions/{id}/events"""

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query

from oversight.api import api_handler, build_resolver, current_principal, json_response
from oversight.contract import responses
from oversight.interventions import get_intervention, intervention_events, list_interventions
from oversight.models import (
    EventList,
    Intervention,
    InterventionPage,
    InterventionType,
    ListInterventionsQuery,
    Priority,
    Status,
)

app = build_resolver()


@app.get(
    "/interventions",
    operation_id="listInterventions",
    tags=["interventions"],
    summary="The queue: pending by priority then age; other statuses newest first",
    responses=responses(200, "A page of interventions"),
)
def list_route(
    status: Annotated[Status, Query()] = Status.PENDING,
    priority: Annotated[Priority | None, Query()] = None,
    type: Annotated[InterventionType | None, Query()] = None,
    assigned_to: Annotated[str | None, Query(min_length=1, max_length=256)] = None,
    uow_id: Annotated[str | None, Query(min_length=1, max_length=256)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: Annotated[str | None, Query(min_length=1, max_length=2048)] = None,
) -> Response[InterventionPage]:
    query = ListInterventionsQuery(
        status=status, priority=priority, type=type, assigned_to=assigned_to, uow_id=uow_id, limit=limit, cursor=cursor
    )
    return json_response(200, list_interventions(current_principal(app), query))


@app.get(
    "/interventions/<id>",
    operation_id="getIntervention",
    tags=["interventions"],
    summary="One intervention",
    responses=responses(200, "The intervention", 404),
)
def get_route(id: str) -> Response[Intervention]:
    return json_response(200, get_intervention(current_principal(app), id))


@app.get(
    "/interventions/<id>/events",
    operation_id="listInterventionEvents",
    tags=["interventions"],
    summary="Audit trail, oldest first",
    responses=responses(200, "A page of the changes, oldest first", 404),
)
def events_route(
    id: str,
    limit: Annotated[int, Query(ge=1, le=100)] = 100,
    cursor: Annotated[str | None, Query(min_length=1, max_length=2048)] = None,
) -> Response[EventList]:
    return json_response(200, intervention_events(current_principal(app), id, limit, cursor))


lambda_handler = api_handler(app)
