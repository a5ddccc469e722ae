"""GET /stats and GET /stats/daily from the pre-computed counters."""

from __future__ import annotations

from datetime import timedelta

from oversight import clock
from oversight.auth import Principal
from oversight.counters import daily_figures, intervention_stats, job_stats, sum_shards
from oversight.models import DailyStats, Stats
from oversight.store import get_stats_store


def tenant_stats(principal: Principal) -> Stats:
    principal.require_member()
    totals = sum_shards(get_stats_store().totals(principal.tenant))
    return Stats(interventions=intervention_stats(totals), jobs=job_stats(totals), generated_at=clock.now())


def tenant_daily_stats(principal: Principal, days: int) -> DailyStats:
    principal.require_member()
    today = clock.now().date()
    dates = [(today - timedelta(days=offset)).isoformat() for offset in range(days - 1, -1, -1)]
    shards = get_stats_store().daily(principal.tenant, dates)
    return DailyStats(days=[daily_figures(day, sum_shards(shards[day])) for day in dates])
