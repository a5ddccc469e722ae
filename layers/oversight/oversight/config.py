"""Environment parsed once into a typed settings object."""

from __future__ import annotations

import os
from functools import cache

from pydantic import BaseModel, Field


class Settings(BaseModel):
    table_name: str = Field(min_length=1)
    idempotency_table_name: str = ""
    retention_days: int = Field(90, ge=1)


@cache
def settings() -> Settings:
    return Settings(
        table_name=os.environ.get("TABLE_NAME", ""),
        idempotency_table_name=os.environ.get("IDEMPOTENCY_TABLE_NAME", ""),
        retention_days=int(os.environ.get("RETENTION_DAYS", "90")),
    )
