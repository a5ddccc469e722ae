"""What a record costs in a Lambda result, and how much of it a list page
may hold.

An API reply leaves the function as a Lambda result whose `body` is the
JSON reply as a string: the reply is encoded twice. Powertools writes the
body with `json.dumps` (ASCII only: any other character is a `\\uXXXX`
escape), so inside the result only `"` and `\\` grow, by one byte each.
Lambda refuses a result over LAMBDA_RESULT_MAX_BYTES, and API Gateway then
answers 500: a page stops early, with a cursor, before its items reach
PAGE_BUDGET_BYTES."""

from __future__ import annotations

import json

from pydantic import BaseModel

# "Exceeded maximum allowed payload size (6291556 bytes)": 6 MiB + 100.
LAMBDA_RESULT_MAX_BYTES = 6 * 1024 * 1024 + 100
# The items of one page, as result bytes. The rest of a result is far
# smaller than the 1 MiB left: status and headers (< 1 KiB), the reply's
# own keys and its cursor (< 3 KiB, a cursor being at most 2,048
# characters); the margin also absorbs what a cost only estimates (the
# presigned URLs of a job's outputs).
PAGE_BUDGET_BYTES = 5 * 1024 * 1024
# A presigned S3 URL, as the API adds one to each output file of a job:
# about 2 KiB with a Lambda role's session token, counted twice that.
PRESIGNED_URL_BYTES = 4096


def result_bytes(record: BaseModel) -> int:
    """The bytes `record` adds to a Lambda result as an item of a list
    reply (with the comma that separates it from the next)."""
    body = json.dumps(record.model_dump(mode="json"), separators=(",", ":"))
    return len(body) + body.count('"') + body.count("\\") + 1
