"""A job that is not there is 404 `not_found` with a fixed message: the id
asked for (caller input of any length) is never echoed."""

from __future__ import annotations

import uuid

import pytest

from tests.support import REQUESTER, VIEWER

LONG_ID = "j" * 5000
UNKNOWN_UUID = str(uuid.UUID(int=7))


MARKUP = "<img src=x onerror=alert(1)>"


@pytest.mark.parametrize("job_id", [LONG_ID, UNKNOWN_UUID, MARKUP], ids=["5000-chars", "uuid", "markup"])
@pytest.mark.parametrize(
    ("method", "path", "claims"),
    [("GET", "/jobs/{}", VIEWER), ("GET", "/jobs/{}/logs", VIEWER), ("POST", "/jobs/{}/cancel", REQUESTER)],
)
def test_job_not_found_never_echoes_the_id(api, job_id, method, path, claims):
    reply = api.request(method, path.format(job_id), claims)
    assert reply.status == 404
    assert (reply.body["code"], reply.body["message"]) == ("not_found", "No job with that id")
    assert job_id not in reply.raw["body"] and len(reply.raw["body"]) < 200
