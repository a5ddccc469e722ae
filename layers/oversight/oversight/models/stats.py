from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from oversight.models.common import Model, Timestamp


class JobStatus(StrEnum):
    AWAITING_APPROVAL = "AWAITING_APPROVAL"
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    REJECTED = "REJECTED"


class ResponderCount(Model):
    user: str
    count: int


class ToolCount(Model):
    tool: str
    count: int


class InterventionStats(Model):
    total: int
    open: int
    by_status: dict[str, int]
    by_type: dict[str, int]
    by_priority: dict[str, int]
    avg_resolution_seconds: float | None
    resolution_seconds_p50: float | None = Field(
        description="Median resolution time (nearest rank), within 4 % of the exact value and between the "
        "shortest and longest resolution; null before any"
    )
    resolution_seconds_p95: float | None = Field(description="95th percentile, as resolution_seconds_p50")
    top_responders: list[ResponderCount] = Field(
        description="Up to 10 users by decisions (approve or reject), then by name"
    )


class JobStats(Model):
    total: int
    by_status: dict[str, int]
    success_rate: float | None = Field(description="COMPLETED / (COMPLETED + FAILED); null before any finished")
    top_tools: list[ToolCount]
    avg_duration_seconds: float | None


class Stats(Model):
    interventions: InterventionStats
    jobs: JobStats
    generated_at: Timestamp


class DailyFigures(Model):
    date: str
    created: int = 0
    approved: int = 0
    rejected: int = 0
    expired: int = 0
    cancelled: int = 0
    jobs_completed: int = 0
    jobs_failed: int = 0


class DailyStats(Model):
    days: list[DailyFigures]
