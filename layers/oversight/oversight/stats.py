"""GET /stats and GET /stats/daily from the pre-computed counters."""

from __future__ import annotations

from datetime import timedelta

from oversight import clock
from oversight.auth import Principal
from oversight.counters import (
    TOP_RESPONDERS,
    daily_figures,
    intervention_stats,
    job_stats,
    responder_attribute,
    sum_shards,
)
from oversight.models import DailyStats, Stats
from oversight.store import get_stats_store

# Responder items read, highest counts first: twice the ranking, so ties at
# the 10th place are broken by name unless more than 10 users share its count.
RESPONDERS_READ = 2 * TOP_RESPONDERS


def tenant_stats(principal: Principal) -> Stats:
    """Two reads whatever the data: the counter shards (one BatchGetItem)
    and the top of the responder index (one Query)."""
    principal.require_member()
    store = get_stats_store()
    totals = sum_shards(store.totals(principal.tenant))
    # Added to any `r:` figures the shards still hold from before responder
    # items existed (recompute_stats moves those to the items).
    top = store.top_responders(principal.tenant, RESPONDERS_READ)
    totals.update({responder_attribute(user): count for user, count in top})
    return Stats(interventions=intervention_stats(totals), jobs=job_stats(totals), generated_at=clock.now())


def tenant_daily_stats(principal: Principal, days: int) -> DailyStats:
    principal.require_member()
    today = clock.now().date()
    dates = [(today - timedelta(days=offset)).isoformat() for offset in range(days - 1, -1, -1)]
    shards = get_stats_store().daily(principal.tenant, dates)
    return DailyStats(days=[daily_figures(day, sum_shards(shards[day])) for day in dates])
