"""GET /stats and GET /stats/daily"""

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query

from oversight.api import api_handler, build_resolver, current_principal, json_response
from oversight.contract import responses
from oversight.models import DailyStats, Stats
from oversight.stats import tenant_daily_stats, tenant_stats

app = build_resolver()


@app.get(
    "/stats",
    operation_id="getStats",
    tags=["stats"],
    summary="Dashboard figures, all-time for the tenant",
    responses=responses(200, "Intervention and job figures"),
)
def stats() -> Response[Stats]:
    return json_response(200, tenant_stats(current_principal(app)))


@app.get(
    "/stats/daily",
    operation_id="getDailyStats",
    tags=["stats"],
    summary="Per-day figures, oldest first, every day present",
    responses=responses(200, "One entry per day"),
)
def daily(days: Annotated[int, Query(ge=1, le=90)] = 30) -> Response[DailyStats]:
    return json_response(200, tenant_daily_stats(current_principal(app), days))


lambda_handler = api_handler(app)
