"""GET /tools, GET /jobs, GET /jobs/{id}, GET /jobs/{id}/logs: the tools
jobs can run, the jobs (with presigned URLs of their output files) and
their log lines. Reads only: submitting and cancelling are submit_job's."""

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
from oversight.config import CursorSettings, OutputBucketSettings, TableSettings, require_settings
from oversight.jobs import get_job, job_logs, list_jobs, list_tools
from oversight.models import Job, JobLogPage, JobPage, JobStatus, ToolList

REQUIRED = require_settings("read_jobs", TableSettings, CursorSettings, OutputBucketSettings)
app = build_resolver()


@app.operation("GET /tools")
def tools() -> Response[ToolList]:
    return json_response(200, list_tools(current_principal(app)))


@app.operation("GET /jobs")
def jobs(
    status: Annotated[JobStatus | None, Query()] = None,
    tool: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Response[JobPage]:
    return json_response(200, list_jobs(current_principal(app), status, tool, limit, cursor))


@app.operation("GET /jobs/{id}")
def job(id: str, if_none_match: Annotated[str | None, if_none_match_header()] = None) -> Response[Job]:
    return record_response(get_job(current_principal(app), id), if_none_match)


@app.operation("GET /jobs/{id}/logs")
def logs(id: str, limit: Limit = 100, cursor: Cursor = None) -> Response[JobLogPage]:
    return json_response(200, job_logs(current_principal(app), id, limit, cursor))


lambda_handler = api_handler(app)
