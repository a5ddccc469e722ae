"""Data access. The only package that talks to boto3."""

from oversight.store.base import InterventionStore, Page
from oversight.store.dynamodb import DynamoInterventionStore, get_intervention_store

__all__ = ["DynamoInterventionStore", "InterventionStore", "Page", "get_intervention_store"]
