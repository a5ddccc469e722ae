"""GET /interventions, /interventions/{id}, /interventions/{id}/events:
the queue, one intervention, its audit trail. Reads only."""

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query

from oversight.api import (
    Cursor,
    Limit,
    api_handler,
    build_resolver,
    current_principal,
    if_none_match_header,
    json_response,
    record_response,
)
from oversight.config import CursorSettings, TableSettings, require_settings
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

REQUIRED = require_settings("read_interventions", TableSettings, CursorSettings)
app = build_resolver()


@app.operation("GET /interventions")
def list_route(
    status: Annotated[Status, Query()] = Status.PENDING,
    priority: Annotated[Priority | None, Query()] = None,
    type: Annotated[InterventionType | None, Query()] = None,
    assigned_to: Annotated[str | None, Query(min_length=1, max_length=256)] = None,
    uow_id: Annotated[str | None, Query(min_length=1, max_length=256)] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Response[InterventionPage]:
    query = ListInterventionsQuery(
        status=status, priority=priority, type=type, assigned_to=assigned_to, uow_id=uow_id, limit=limit, cursor=cursor
    )
    return json_response(200, list_interventions(current_principal(app), query))


@app.operation("GET /interventions/{id}")
def get_route(id: str, if_none_match: Annotated[str | None, if_none_match_header()] = None) -> Response[Intervention]:
    return record_response(get_intervention(current_principal(app), id), if_none_match)


@app.operation("GET /interventions/{id}/events")
def events_route(id: str, limit: Limit = 100, cursor: Cursor = None) -> Response[EventList]:
    return json_response(200, intervention_events(current_principal(app), id, limit, cursor))


lambda_handler = api_handler(app)
