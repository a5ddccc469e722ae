"""POST /interventions"""

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Header

from oversight.api import api_handler, build_resolver, current_principal, json_response
from oversight.contract import responses
from oversight.interventions import create_intervention
from oversight.models import CreateInterventionRequest, Intervention
from oversight.replays import watch_replays

app = build_resolver()

IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", min_length=1, max_length=128, description="Retry-safe creation (24 h)"),
]


@app.post(
    "/interventions",
    operation_id="createIntervention",
    tags=["interventions"],
    summary="Raise an intervention request",
    responses=responses(
        201, "Created (or the first response, replayed for the same Idempotency-Key)", 409, 413, replayable=True
    ),
)
def post_intervention(
    body: CreateInterventionRequest, idempotency_key: IdempotencyKey = None
) -> Response[Intervention]:
    with watch_replays() as replay:
        created = create_intervention(current_principal(app), body, idempotency_key, app.lambda_context)
    response = json_response(201, created)
    response.headers.update(replay.headers)
    return response


lambda_handler = api_handler(app)
