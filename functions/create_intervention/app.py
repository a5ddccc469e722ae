"""POST /interventions: raise an intervention request, retry-safe with an
Idempotency-Key."""

from typing import Annotated

from aws_lambda_powertools.event_handler import Response

from oversight.api import api_handler, build_resolver, current_principal, idempotency_key_header, replayable_response
from oversight.config import IdempotencySettings, SecretsKeySettings, TableSettings, require_settings
from oversight.interventions import create_intervention
from oversight.models import CreateInterventionRequest, Intervention

REQUIRED = require_settings("create_intervention", TableSettings, IdempotencySettings, SecretsKeySettings)
app = build_resolver()


@app.operation("POST /interventions")
def post_intervention(
    body: CreateInterventionRequest,
    idempotency_key: Annotated[str | None, idempotency_key_header("creation")] = None,
) -> Response[Intervention]:
    return replayable_response(
        201, lambda: create_intervention(current_principal(app), body, idempotency_key, app.lambda_context)
    )


lambda_handler = api_handler(app)
