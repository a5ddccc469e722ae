"""Data access. The only package that talks to boto3: abstract stores in
base.py, one DynamoDB module per store (interventions, jobs, stats) on the
shared helpers of _dynamodb.py, every key shape in keys.py."""

from oversight.store._dynamodb import dynamodb_client
from oversight.store.base import InterventionStore, JobStore, Page, StatsStore
from oversight.store.interventions import DynamoInterventionStore, get_intervention_store
from oversight.store.stats import DynamoStatsStore, get_stats_store

__all__ = [
    "DynamoInterventionStore",
    "DynamoStatsStore",
    "InterventionStore",
    "JobStore",
    "Page",
    "StatsStore",
    "dynamodb_client",
    "get_intervention_store",
    "get_stats_store",
]
