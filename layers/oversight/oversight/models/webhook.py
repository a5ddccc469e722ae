from __future__ import annotations

from pydantic import ConfigDict, Field, field_validator

from oversight.models.common import Model, Timestamp
from oversight.models.intervention import MAX_URL_CHARS, check_url

ALL_EVENTS = "*"
# Every event type (an event's `detail-type`), in the order the spec lists them.
INTERVENTION_EVENT_TYPES = tuple(
    f"Intervention {name}"
    for name in (
        "Created",
        "Claimed",
        "Released",
        "Assigned",
        "Approved",
        "Rejected",
        "Cancelled",
        "Completed",
        "Expired",
        "Escalated",
        "Commented",
    )
)
JOB_EVENT_TYPES = tuple(
    f"Job {name}" for name in ("Submitted", "Queued", "Started", "Completed", "Failed", "Cancelled", "Rejected")
)
EVENT_TYPES = INTERVENTION_EVENT_TYPES + JOB_EVENT_TYPES
MAX_SUBSCRIPTIONS = 25


class CreateWebhookRequest(Model):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)  # as every request model (models/intervention.py)

    url: str = Field(min_length=1, max_length=MAX_URL_CHARS, description="Receives the events (WEBHOOK_ALLOWED_HOSTS)")
    events: list[str] = Field(
        min_length=1, max_length=len(EVENT_TYPES), description='Event types (`detail-type`s), or ["*"] for all'
    )
    description: str = Field("", max_length=500)

    @field_validator("url")
    @classmethod
    def _url_allowed(cls, value: str) -> str:
        check_url(value, "url")
        return value

    @field_validator("events")
    @classmethod
    def _known_events(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("an event type is listed twice")
        if ALL_EVENTS in value:
            if len(value) > 1:
                raise ValueError('"*" stands for every event type: list it alone')
            return value
        unknown = [name for name in value if name not in EVENT_TYPES]
        if unknown:
            raise ValueError(f'unknown event type {unknown[0]!r}; one of: {", ".join(EVENT_TYPES)}, or "*"')
        return value


class LastDelivery(Model):
    at: Timestamp
    event_id: str
    event_type: str
    attempt: int
    ok: bool
    status_code: int | None = None
    error: str | None = None


class Webhook(Model):
    id: str
    url: str
    events: list[str]
    description: str
    enabled: bool = True
    disabled_reason: str | None = None
    created_at: Timestamp
    created_by: str
    last_delivery: LastDelivery | None = None

    def wants(self, event_type: str) -> bool:
        return self.enabled and (ALL_EVENTS in self.events or event_type in self.events)


class CreatedWebhook(Webhook):
    secret: str = Field(description="Signs every delivery (docs/integrations.md); shown only in this answer")


class WebhookList(Model):
    items: list[Webhook]
    next_cursor: str | None = None
