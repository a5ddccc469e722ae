from __future__ import annotations

import json
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, JsonValue, field_validator

from oversight.models.common import Timestamp

MAX_CONTEXT_BYTES = 16 * 1024
# Role names end up in messages and keys: keep them to a plain alphabet.
ROLE_PATTERN = r"^[A-Za-z0-9_.:-]{1,64}$"


class InterventionType(StrEnum):
    KILL_SWITCH = "kill_switch"
    CLARIFICATION = "clarification"
    WAIVE_VIOLATION = "waive_violation"
    RESUME = "resume"
    CANCEL = "cancel"
    APPROVAL = "approval"


class Status(StrEnum):
    PENDING = "PENDING"
    IN_PROGRESS = "IN_PROGRESS"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
    CANCELLED = "CANCELLED"
    EXPIRED = "EXPIRED"
    COMPLETED = "COMPLETED"

    @property
    def is_open(self) -> bool:
        return self in (Status.PENDING, Status.IN_PROGRESS)


class Priority(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"

    @property
    def rank(self) -> int:
        """0 for critical … 3 for low: the queue's primary sort order."""
        return _PRIORITY_RANK[self]


_PRIORITY_RANK = {Priority.CRITICAL: 0, Priority.HIGH: 1, Priority.NORMAL: 2, Priority.LOW: 3}


class _Request(BaseModel):
    # No NaN or Infinity even from Python callers: the HTTP body reader
    # refuses them already, with the field's path (oversight.json_body).
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class CreateInterventionRequest(_Request):
    uow_id: str = Field(min_length=1, max_length=256, description="The unit of work that raised it")
    type: InterventionType
    title: str = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=4000)
    priority: Priority = Priority.NORMAL
    context: dict[str, JsonValue] = Field(default_factory=dict, description="Free-form, at most 16 KiB as JSON")
    expires_in_seconds: int = Field(3600, ge=60, le=2_592_000)
    required_role: str = Field("operator", pattern=ROLE_PATTERN)
    assigned_to: str | None = Field(None, min_length=1, max_length=256)

    @field_validator("context")
    @classmethod
    def _context_size(cls, value: dict[str, Any]) -> dict[str, Any]:
        size = len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())
        if size > MAX_CONTEXT_BYTES:
            raise ValueError(f"context is {size} bytes as JSON; at most {MAX_CONTEXT_BYTES} allowed")
        return value


class DecisionRequest(_Request):
    reason: str = Field(min_length=1, max_length=2000)
    response: JsonValue = Field(None, description="The decider's answer, any JSON (e.g. a clarification)")


class ReasonRequest(_Request):
    reason: str | None = Field(None, min_length=1, max_length=2000)


class EmptyRequest(_Request):
    """claim and release take no body: empty or `{}`."""


class Intervention(BaseModel):
    id: str
    uow_id: str
    type: InterventionType
    status: Status
    priority: Priority
    title: str
    description: str
    context: dict[str, JsonValue]
    required_role: str
    assigned_to: str | None = None
    created_by: str
    created_at: Timestamp
    updated_at: Timestamp
    expires_at: Timestamp
    decided_by: str | None = None
    decided_at: Timestamp | None = None
    decision_reason: str | None = None
    response: JsonValue = None
    resolution_seconds: float | None = None
    job_id: str | None = None
    version: int = Field(ge=1)


class InterventionEvent(BaseModel):
    at: Timestamp
    actor: str
    action: str
    from_status: Status | None
    to_status: Status
    reason: str | None = None


class InterventionPage(BaseModel):
    items: list[Intervention]
    next_cursor: str | None


class EventList(BaseModel):
    items: list[InterventionEvent]
    next_cursor: str | None = None


class ListInterventionsQuery(BaseModel):
    status: Status = Status.PENDING
    priority: Priority | None = None
    type: InterventionType | None = None
    assigned_to: str | None = None
    uow_id: str | None = None
    limit: int = Field(50, ge=1, le=100)
    cursor: str | None = None

    def filters(self) -> dict[str, str]:
        """The filters a cursor is bound to (not limit, not the cursor)."""
        return {k: str(v) for k, v in self.model_dump(exclude={"limit", "cursor"}).items() if v is not None}
