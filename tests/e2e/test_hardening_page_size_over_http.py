"""Pages fit Lambda's 6 MB response, over real HTTP: records at every limit,
of characters that grow most when escaped, listed with limit=100 through the
local runtime (which refuses a result over 6 MB as Lambda does): every page
answers 200 within the limit, and paging loses or repeats no record."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests

from tests.e2e.runtime_process import RuntimeLauncher, bearer

pytestmark = pytest.mark.e2e

REQUESTER = bearer("agent-7", "requester")
VIEWER = bearer("watcher-di", "viewer")
LAMBDA_RESULT_MAX_BYTES = 6 * 1024 * 1024 + 100
# One code point; `\ud83d\ude00` in the reply, 14 bytes inside a Lambda result.
WIDE = "\U0001f600"


def worst_case(n: int) -> bytes:
    body = {
        "uow_id": f"{n:03d}" + WIDE * 253,
        "type": "approval",
        "title": WIDE * 200,
        "description": WIDE * 4000,
        "context": {"k": WIDE * 4090},  # 16,368 bytes as JSON: under 16 KiB
    }
    return json.dumps(body, ensure_ascii=False).encode()


def as_lambda_result(reply: requests.Response) -> int:
    """The bytes of the result the function returned for this reply."""
    result = {
        "statusCode": reply.status_code,
        "headers": {"Content-Type": "application/json"},
        "body": reply.text,
        "isBase64Encoded": False,
        "cookies": [],
    }
    return len(json.dumps(result, ensure_ascii=False).encode())


def test_limit_100_pages_of_worst_case_records_fit_and_lose_nothing(launch: RuntimeLauncher, tmp_path: Path) -> None:
    runtime = launch.start(tmp_path / "state")
    headers = {**REQUESTER, "Content-Type": "application/json"}
    created = set()
    with requests.Session() as http:
        for n in range(100):
            reply = http.post(f"{runtime.url}/interventions", data=worst_case(n), headers=headers, timeout=10)
            assert reply.status_code == 201, reply.text
            created.add(reply.json()["id"])

        seen, sizes, cursor = [], [], None
        while True:
            params = {"limit": "100", **({"cursor": cursor} if cursor else {})}
            page = http.get(f"{runtime.url}/interventions", params=params, headers=VIEWER, timeout=30)
            assert page.status_code == 200, (page.text[:300], runtime.log[-2000:])
            sizes.append(as_lambda_result(page))
            seen += [item["id"] for item in page.json()["items"]]
            cursor = page.json()["next_cursor"]
            if cursor is None:
                break

    assert len(sizes) > 1 and max(sizes) <= LAMBDA_RESULT_MAX_BYTES, sizes
    assert len(seen) == len(set(seen)) == 100 and set(seen) == created
    assert "response limit" not in runtime.log
