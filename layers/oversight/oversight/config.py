"""Environment parsed once into a typed settings object."""

from __future__ import annotations

import os
from functools import cache

from pydantic import BaseModel, Field


class Settings(BaseModel):
    table_name: str = Field(min_length=1)
    idempotency_table_name: str = ""
    retention_days: int = Field(90, ge=1)
    job_queue_url: str = ""
    output_bucket: str = ""
    job_max_receives: int = Field(3, ge=1)
    job_cache_ttl_seconds: int = Field(3600, ge=0)
    # Signs list cursors (store/cursor.py); in AWS a generated secret.
    cursor_signing_key: str = Field("", repr=False)


@cache
def settings() -> Settings:
    return Settings(
        table_name=os.environ.get("TABLE_NAME", ""),
        idempotency_table_name=os.environ.get("IDEMPOTENCY_TABLE_NAME", ""),
        retention_days=int(os.environ.get("RETENTION_DAYS", "90")),
        job_queue_url=os.environ.get("JOB_QUEUE_URL", ""),
        output_bucket=os.environ.get("OUTPUT_BUCKET", ""),
        job_max_receives=int(os.environ.get("JOB_MAX_RECEIVES", "3")),
        job_cache_ttl_seconds=int(os.environ.get("JOB_CACHE_TTL_SECONDS", "3600")),
        cursor_signing_key=os.environ.get("CURSOR_SIGNING_KEY", ""),
    )
