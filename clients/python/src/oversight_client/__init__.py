"""Python client for the Oversight API (human-in-the-loop decisions and gated jobs).

    from oversight_client import Client, Rejected

    client = Client.from_env()  # OVERSIGHT_URL, OVERSIGHT_TOKEN
    try:
        client.request_decision(uow_id="order-42", title="Refund 120 EUR to ACME?", timeout=3600)
    except Rejected as rejected:
        print("no:", rejected.intervention.decision_reason)

See docs/client.md.
"""

from oversight_client._version import __version__
from oversight_client.approval import require_approval
from oversight_client.client import Client, Response
from oversight_client.errors import (
    Cancelled,
    Conflict,
    DecisionError,
    Expired,
    Forbidden,
    IdempotencyKeyReused,
    InternalError,
    InvalidTransition,
    NotFound,
    OversightError,
    PayloadTooLarge,
    RecordExpired,
    Rejected,
    ServiceUnavailable,
    TransportError,
    Unauthorized,
    UnexpectedResponse,
    ValidationFailed,
    WaitTimeout,
)
from oversight_client.models import (
    Approval,
    ApprovalOptions,
    Comment,
    CreatedWebhook,
    DailyStats,
    Escalation,
    Intervention,
    InterventionEvent,
    InterventionType,
    Job,
    JobLogLine,
    JobResult,
    JobStatus,
    OnExpiry,
    Priority,
    Stats,
    Status,
    ToolInfo,
    Webhook,
)
from oversight_client.retries import RetryPolicy

__all__ = [
    "Approval",
    "ApprovalOptions",
    "Cancelled",
    "Client",
    "Comment",
    "Conflict",
    "CreatedWebhook",
    "DailyStats",
    "DecisionError",
    "Escalation",
    "Expired",
    "Forbidden",
    "IdempotencyKeyReused",
    "InternalError",
    "Intervention",
    "InterventionEvent",
    "InterventionType",
    "InvalidTransition",
    "Job",
    "JobLogLine",
    "JobResult",
    "JobStatus",
    "NotFound",
    "OnExpiry",
    "OversightError",
    "PayloadTooLarge",
    "Priority",
    "RecordExpired",
    "Rejected",
    "Response",
    "RetryPolicy",
    "ServiceUnavailable",
    "Stats",
    "Status",
    "ToolInfo",
    "TransportError",
    "Unauthorized",
    "UnexpectedResponse",
    "ValidationFailed",
    "WaitTimeout",
    "Webhook",
    "__version__",
    "require_approval",
]
