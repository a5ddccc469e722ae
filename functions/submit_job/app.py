"""POST /jobs (run a tool asynchronously, optionally behind an approval;
retry-safe with an Idempotency-Key) and POST /jobs/{id}/cancel. The job
reads are read_jobs'."""

from typing import Annotated

from aws_lambda_powertools.event_handler import Response

from oversight.api import (
    api_handler,
    build_resolver,
    current_principal,
    idempotency_key_header,
    json_response,
    replayable_response,
)
from oversight.config import IdempotencySettings, JobQueueSettings, TableSettings, require_settings
from oversight.jobs import cancel_job, submit_job
from oversight.models import Job, SubmitJobRequest

REQUIRED = require_settings("submit_job", TableSettings, IdempotencySettings, JobQueueSettings)
app = build_resolver()


@app.operation("POST /jobs")
def post_job(
    body: SubmitJobRequest,
    idempotency_key: Annotated[str | None, idempotency_key_header("submission")] = None,
) -> Response[Job]:
    return replayable_response(
        202, lambda: submit_job(current_principal(app), body, idempotency_key, app.lambda_context)
    )


@app.operation("POST /jobs/{id}/cancel")
def cancel(id: str) -> Response[Job]:
    return json_response(200, cancel_job(current_principal(app), id))


lambda_handler = api_handler(app)
