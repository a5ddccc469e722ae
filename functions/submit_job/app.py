"""GET /tools, POST /jobs, GET /jobs, GET /jobs/{id}, GET /jobs/{id}/logs,
POST /jobs/{id}/cancel"""

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Header, Query

from oversight.api import api_handler, build_resolver, current_principal, json_response
from oversight.contract import responses
from oversight.jobs import cancel_job, get_job, job_logs, list_jobs, list_tools, submit_job
from oversight.models import Job, JobLogPage, JobPage, JobStatus, SubmitJobRequest, ToolList
from oversight.replays import watch_replays

app = build_resolver()

IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", min_length=1, max_length=128, description="Retry-safe submission (24 h)"),
]
Limit = Annotated[int, Query(ge=1, le=100)]
Cursor = Annotated[str | None, Query(min_length=1, max_length=2048)]


@app.get(
    "/tools",
    operation_id="listTools",
    tags=["jobs"],
    summary="The tools jobs can run, with their parameters' JSON Schema",
    responses=responses(200, "Every registered tool"),
)
def tools() -> Response[ToolList]:
    return json_response(200, list_tools(current_principal(app)))


@app.post(
    "/jobs",
    operation_id="submitJob",
    tags=["jobs"],
    summary="Run a tool asynchronously, optionally behind an approval",
    responses=responses(
        202, "Accepted: queued, awaiting approval, or answered from the cache", 409, 413, replayable=True
    ),
)
def post_job(body: SubmitJobRequest, idempotency_key: IdempotencyKey = None) -> Response[Job]:
    with watch_replays() as replay:
        job = submit_job(current_principal(app), body, idempotency_key, app.lambda_context)
    response = json_response(202, job)
    response.headers.update(replay.headers)
    return response


@app.get(
    "/jobs",
    operation_id="listJobs",
    tags=["jobs"],
    summary="Jobs, newest first",
    responses=responses(200, "A page of jobs"),
)
def jobs(
    status: Annotated[JobStatus | None, Query()] = None,
    tool: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Response[JobPage]:
    return json_response(200, list_jobs(current_principal(app), status, tool, limit, cursor))


@app.get(
    "/jobs/<id>",
    operation_id="getJob",
    tags=["jobs"],
    summary="One job, with its result and presigned output URLs",
    responses=responses(200, "The job", 404),
)
def job(id: str) -> Response[Job]:
    return json_response(200, get_job(current_principal(app), id))


@app.get(
    "/jobs/<id>/logs",
    operation_id="listJobLogs",
    tags=["jobs"],
    summary="The job's log lines, oldest first",
    responses=responses(200, "A page of log lines", 404),
)
def logs(id: str, limit: Limit = 100, cursor: Cursor = None) -> Response[JobLogPage]:
    return json_response(200, job_logs(current_principal(app), id, limit, cursor))


@app.post(
    "/jobs/<id>/cancel",
    operation_id="cancelJob",
    tags=["jobs"],
    summary="Cancel (a running job stops cooperatively)",
    responses=responses(200, "The job after the request", 404, 409, 413),
)
def cancel(id: str) -> Response[Job]:
    return json_response(200, cancel_job(current_principal(app), id))


lambda_handler = api_handler(app)
