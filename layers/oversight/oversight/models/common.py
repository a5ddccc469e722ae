from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, PlainSerializer

from oversight.clock import iso

# Datetimes leave the API as ISO 8601 UTC with `Z`.
Timestamp = Annotated[datetime, PlainSerializer(iso, return_type=str)]


class ErrorBody(BaseModel):
    code: str
    message: str
    details: list[dict[str, Any]] | None = None
