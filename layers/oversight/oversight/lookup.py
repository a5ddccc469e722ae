"""Finding one record for a caller: the id checked before any read, and the
record shown only to members of its tenant."""

from __future__ import annotations

import uuid
from typing import TypeVar

from oversight.auth import Principal
from oversight.errors import RecordNotFound

RecordT = TypeVar("RecordT")


def checked_id(record_id: str, not_found: type[RecordNotFound]) -> str:
    """Ids are UUIDs we issued; anything else cannot exist (404, no read)."""
    try:
        return str(uuid.UUID(record_id))
    except ValueError:
        raise not_found() from None


def shown_to(principal: Principal, record: RecordT | None, not_found: type[RecordNotFound]) -> RecordT:
    """`record` as read for `principal` (None: no such record). Membership is
    checked after the lookup: another tenant's record is 404, never 403."""
    if record is None:
        raise not_found()
    principal.require_member()
    return record
