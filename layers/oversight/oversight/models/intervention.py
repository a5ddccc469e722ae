from __future__ import annotations

import json
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from pydantic import (
    ConfigDict,
    Field,
    JsonValue,
    ValidationInfo,
    computed_field,
    field_validator,
    model_validator,
)

from oversight.answers import check_schema
from oversight.models.common import Model, Timestamp
from oversight.outbound import HostRefused, refusal

MAX_CONTEXT_BYTES = 16 * 1024
# A decision's answer: up to ten approvals keep theirs on the record, which must
# stay well under DynamoDB's 400 KB item limit (10 x 16 KiB + the rest < 250 KiB).
MAX_RESPONSE_BYTES = 16 * 1024
MAX_REQUIRED_APPROVALS = 10
MAX_URL_CHARS = 2048
# The allow-list of webhook and callback hosts (oversight.outbound).
WEBHOOK_HOSTS_VARIABLE = "WEBHOOK_ALLOWED_HOSTS"
# Request fields kept encrypted beside the record (store/sealed.py), never on it nor returned.
SEALED_FIELDS = ("callback_secret", "task_token")
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


class OnExpiry(StrEnum):
    """What the sweep makes of a request nobody decided in time."""

    EXPIRE = "expire"
    APPROVE = "approve"
    REJECT = "reject"


def _json_bytes(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


class _Request(Model):
    # No NaN or Infinity even from Python callers: the HTTP body reader
    # refuses them already, with the field's path (oversight.json_body).
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class Escalation(_Request):
    """If still PENDING (unclaimed) `after_seconds` after creation, the sweep
    escalates once: holders of `to_role` may act as holders of the required
    role do, and the priority rises to `priority`."""

    after_seconds: int = Field(ge=60, le=2_592_000)
    to_role: str | None = Field(None, pattern=ROLE_PATTERN)
    priority: Priority | None = None


class Approval(Model):
    """One approval of a request that needs several (or the one of a request that needs one)."""

    user: str
    at: Timestamp
    reason: str
    response: JsonValue = None


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
    required_approvals: int = Field(
        1, ge=1, le=MAX_REQUIRED_APPROVALS, description="Distinct approvers needed (never the creator)"
    )
    on_expiry: OnExpiry = Field(OnExpiry.EXPIRE, description="What the sweep does when nobody decided in time")
    response_schema: dict[str, JsonValue] | None = Field(
        None, description="JSON Schema (at most 8 KiB) an approve's `response` must satisfy"
    )
    escalation: Escalation | None = None
    callback_url: str | None = Field(
        None,
        min_length=1,
        max_length=MAX_URL_CHARS,
        description="Receives every event of this request, signed with `callback_secret` (docs/integrations.md)",
    )
    callback_secret: str | None = Field(
        None,
        min_length=16,
        max_length=256,
        repr=False,
        description="Signs the callbacks; required with `callback_url`; never returned by any read",
        validate_default=True,
    )
    task_token: str | None = Field(
        None,
        min_length=1,
        max_length=1024,
        repr=False,
        description="A Step Functions task token (`$$.Task.Token`): its task gets the outcome; never returned",
    )

    @field_validator("context")
    @classmethod
    def _context_size(cls, value: dict[str, Any]) -> dict[str, Any]:
        size = _json_bytes(value)
        if size > MAX_CONTEXT_BYTES:
            raise ValueError(f"context is {size} bytes as JSON; at most {MAX_CONTEXT_BYTES} allowed")
        return value

    @field_validator("response_schema")
    @classmethod
    def _valid_schema(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None:
            check_schema(value)
        return value

    @model_validator(mode="after")
    def _coherent(self) -> CreateInterventionRequest:
        check_expiry_default(self.on_expiry, self.required_approvals, self.type)
        check_escalation(self.escalation, self.priority)
        return self

    @field_validator("callback_url")
    @classmethod
    def _callback_allowed(cls, value: str | None) -> str | None:
        if value is not None:
            check_url(value, "callback_url")
        return value

    @field_validator("callback_secret")
    @classmethod
    def _secret_with_url(cls, value: str | None, info: ValidationInfo) -> str | None:
        # Runs for the default too (validate_default): a URL without a secret is refused on this field.
        has_url = info.data.get("callback_url") is not None
        if has_url and value is None:
            raise ValueError("callback_secret is required with callback_url: it signs every callback")
        if value is not None and not has_url and "callback_url" in info.data:
            raise ValueError("callback_secret is given without callback_url")
        return value

    def sealed_fields(self) -> dict[str, str]:
        """The fields kept encrypted beside the record, never on it."""
        fields = {name: getattr(self, name) for name in SEALED_FIELDS}
        return {name: value for name, value in fields.items() if value is not None}


def check_url(url: str, name: str) -> None:
    """An absolute http(s) URL with no user info (it is shown to readers),
    whose host is allow-listed (WEBHOOK_ALLOWED_HOSTS). No I/O here: the
    addresses the host resolves to are the use case's check
    (outbound.check_destination), and again each delivery's."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{name} must be an absolute http or https URL")
    if parts.username is not None or parts.password is not None:
        raise ValueError(f"{name} must not carry a user name or password: deliveries are signed instead")
    try:
        reason = refusal(url, WEBHOOK_HOSTS_VARIABLE)
    except HostRefused as malformed:  # the setting: it refuses everything
        raise ValueError(str(malformed)) from None
    if reason:
        raise ValueError(reason)


def check_expiry_default(on_expiry: OnExpiry, required_approvals: int, kind: InterventionType | None) -> None:
    """Refuse a default approval where it must never apply (docs/decisions.md):
    a kill switch nobody answered, or a quorum that nobody formed."""
    if on_expiry is not OnExpiry.APPROVE:
        return
    if kind is InterventionType.KILL_SWITCH:
        raise ValueError("on_expiry 'approve' is refused for a kill_switch: an unanswered kill switch must not fire")
    if required_approvals > 1:
        raise ValueError(
            "on_expiry 'approve' is refused when required_approvals > 1: a default cannot stand in for a quorum"
        )


def check_escalation(escalation: Escalation | None, priority: Priority) -> None:
    if escalation is not None and escalation.priority is not None and escalation.priority.rank > priority.rank:
        raise ValueError(
            f"escalation.priority '{escalation.priority.value}' would lower the priority '{priority.value}'"
        )


class DecisionRequest(_Request):
    reason: str = Field(min_length=1, max_length=2000)
    response: JsonValue = Field(
        None, description="The decider's answer, any JSON (e.g. a clarification), at most 16 KiB as JSON"
    )

    @field_validator("response")
    @classmethod
    def _response_size(cls, value: Any) -> Any:
        size = _json_bytes(value)
        if size > MAX_RESPONSE_BYTES:
            raise ValueError(f"response is {size} bytes as JSON; at most {MAX_RESPONSE_BYTES} allowed")
        return value


class AssignRequest(_Request):
    user: str = Field(min_length=1, max_length=256, description="Who takes the request over")


class CommentRequest(_Request):
    text: str = Field(min_length=1, max_length=2000)


class Comment(Model):
    at: Timestamp
    actor: str
    text: str


class ReasonRequest(_Request):
    reason: str | None = Field(None, min_length=1, max_length=2000)


class EmptyRequest(_Request):
    """claim and release take no body: empty or `{}`."""


class Intervention(Model):
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
    required_approvals: int = 1
    approvals: list[Approval] = Field(default_factory=list)
    on_expiry: OnExpiry = OnExpiry.EXPIRE
    response_schema: dict[str, JsonValue] | None = None
    escalation: Escalation | None = None
    escalated_at: Timestamp | None = None
    callback_url: str | None = None
    version: int = Field(ge=1)

    @computed_field  # type: ignore[prop-decorator]  # pydantic's documented form for a derived field
    @property
    def approvals_needed(self) -> int:
        """How many approvals remain while open; 0 once closed."""
        return max(self.required_approvals - len(self.approvals), 0) if self.status.is_open else 0

    def approved_by(self, user: str) -> bool:
        return any(approval.user == user for approval in self.approvals)

    def escalation_due_at(self) -> datetime | None:
        """When the sweep escalates this record, while it still can: PENDING,
        with an escalation not yet applied."""
        if self.escalation is None or self.escalated_at is not None or self.status is not Status.PENDING:
            return None
        return self.created_at + timedelta(seconds=self.escalation.after_seconds)


class InterventionEvent(Model):
    at: Timestamp
    actor: str
    action: str
    from_status: Status | None
    to_status: Status
    reason: str | None = None


class InterventionPage(Model):
    items: list[Intervention]
    next_cursor: str | None


class EventList(Model):
    items: list[InterventionEvent]
    next_cursor: str | None = None


class ListInterventionsQuery(Model):
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
