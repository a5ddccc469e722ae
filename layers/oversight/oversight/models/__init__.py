"""API and domain shapes (pydantic v2). Request models reject unknown fields."""

from oversight.models.common import ErrorBody, Timestamp
from oversight.models.stats import (
    DailyFigures,
    DailyStats,
    InterventionStats,
    JobStats,
    JobStatus,
    ResponderCount,
    Stats,
    ToolCount,
)
from oversight.models.intervention import (
    CreateInterventionRequest,
    DecisionRequest,
    EmptyRequest,
    EventList,
    Intervention,
    InterventionEvent,
    InterventionPage,
    InterventionType,
    ListInterventionsQuery,
    Priority,
    ReasonRequest,
    Status,
)

__all__ = [
    "DailyFigures",
    "DailyStats",
    "InterventionStats",
    "JobStats",
    "JobStatus",
    "ResponderCount",
    "Stats",
    "ToolCount",
    "CreateInterventionRequest",
    "DecisionRequest",
    "EmptyRequest",
    "ErrorBody",
    "EventList",
    "Intervention",
    "InterventionEvent",
    "InterventionPage",
    "InterventionType",
    "ListInterventionsQuery",
    "Priority",
    "ReasonRequest",
    "Status",
    "Timestamp",
]
