"""Data access. The only package that talks to boto3."""

from oversight.store.base import InterventionStore, Page, StatsStore
from oversight.store.dynamodb import (
    DynamoInterventionStore,
    DynamoStatsStore,
    get_intervention_store,
    get_stats_store,
)

__all__ = [
    "DynamoInterventionStore",
    "DynamoStatsStore",
    "InterventionStore",
    "Page",
    "StatsStore",
    "get_intervention_store",
    "get_stats_store",
]
