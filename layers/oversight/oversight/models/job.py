from __future__ import annotations

from pydantic import ConfigDict, Field, JsonValue, model_validator

from oversight.models.common import Model, Timestamp
from oversight.models.intervention import (
    MAX_REQUIRED_APPROVALS,
    ROLE_PATTERN,
    Escalation,
    OnExpiry,
    Priority,
    check_escalation,
    check_expiry_default,
)
from oversight.models.stats import JobStatus

RESULT_FIELD_CAP_BYTES = 64 * 1024


class ApprovalOptions(Model):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)  # as every request model (models/intervention.py)

    required_role: str = Field("operator", pattern=ROLE_PATTERN)
    priority: Priority = Priority.NORMAL
    title: str | None = Field(None, min_length=1, max_length=200)
    expires_in_seconds: int = Field(3600, ge=60, le=2_592_000)
    required_approvals: int = Field(1, ge=1, le=MAX_REQUIRED_APPROVALS)
    on_expiry: OnExpiry = OnExpiry.EXPIRE
    escalation: Escalation | None = None

    @model_validator(mode="after")
    def _coherent(self) -> ApprovalOptions:
        check_expiry_default(self.on_expiry, self.required_approvals, None)
        check_escalation(self.escalation, self.priority)
        return self


class SubmitJobRequest(Model):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)  # as every request model (models/intervention.py)

    tool: str = Field(min_length=1, max_length=64)
    parameters: dict[str, JsonValue] = Field(default_factory=dict)
    use_cache: bool = True
    requires_approval: bool = False
    approval: ApprovalOptions | None = None


class OutputFile(Model):
    name: str
    size_bytes: int
    url: str | None = Field(None, description="Presigned download URL (short-lived)")


class JobResult(Model):
    return_value: JsonValue = None
    stdout: str = ""
    stderr: str = ""
    truncated: bool = Field(False, description="True when return_value, stdout or stderr was capped at 64 KiB")
    outputs: list[OutputFile] = Field(default_factory=list)
    error: str | None = None


class Job(Model):
    id: str
    tool: str
    parameters: dict[str, JsonValue]
    status: JobStatus
    submitted_by: str
    created_at: Timestamp
    started_at: Timestamp | None = None
    finished_at: Timestamp | None = None
    duration_seconds: float | None = None
    attempts: int = 0
    cached: bool = False
    cached_from: str | None = Field(None, description="For a cached job: the run whose result it carries")
    intervention_id: str | None = None
    cancel_requested: bool = False
    result: JobResult | None = None
    version: int = Field(1, ge=1, description="Counts the job's changes: events carry it, receivers order by it")


class JobPage(Model):
    items: list[Job]
    next_cursor: str | None


class JobLogLine(Model):
    at: Timestamp
    level: str
    message: str


class JobLogPage(Model):
    items: list[JobLogLine]
    next_cursor: str | None


class ToolInfo(Model):
    name: str
    description: str
    parameters_schema: dict[str, JsonValue]
    cacheable: bool
    timeout_seconds: int
    required_role: str | None = Field(None, description="Only holders of this role (or admins) may submit the tool")


class ToolList(Model):
    items: list[ToolInfo]
