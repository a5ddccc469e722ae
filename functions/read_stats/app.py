"""GET /stats and GET /stats/daily: the tenant's figures, read from the
pre-computed counters. Reads only."""

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query

from oversight.api import api_handler, build_resolver, current_principal, json_response
from oversight.config import TableSettings, require_settings
from oversight.models import DailyStats, Stats
from oversight.stats import tenant_daily_stats, tenant_stats

REQUIRED = require_settings("read_stats", TableSettings)
app = build_resolver()


@app.operation("GET /stats")
def stats() -> Response[Stats]:
    return json_response(200, tenant_stats(current_principal(app)))


@app.operation("GET /stats/daily")
def daily(days: Annotated[int, Query(ge=1, le=90)] = 30) -> Response[DailyStats]:
    return json_response(200, tenant_daily_stats(current_principal(app), days))


lambda_handler = api_handler(app)
