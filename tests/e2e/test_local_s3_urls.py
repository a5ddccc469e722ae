"""Output files over real HTTP: presigned URLs at the API's own address that
outlive a restart, and the emulated S3 refusing what S3 refuses (another
tenant's key in a URL, an anonymous listing, an expired URL)."""

from __future__ import annotations

import datetime
import re
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import boto3
import botocore.auth
import pytest
import requests
from botocore.config import Config

from local_runtime.aws import FAKE_CREDENTIALS
from local_runtime.s3_gateway import S3_PATH
from local_runtime.template import Template
from tests.e2e.runtime_process import RunningRuntime, RuntimeLauncher, bearer

pytestmark = pytest.mark.e2e

ACME = bearer("agent-7", "requester", tenant="acme")
GLOBEX = bearer("agent-9", "requester", tenant="globex")
BUCKET = Template().physical_name("OutputBucket")


def exported_file(runtime: RunningRuntime, requester: dict[str, str]) -> dict[str, Any]:
    """An export job of the requester's tenant, run to completion: its output."""
    created = requests.post(
        f"{runtime.url}/interventions",
        headers=requester,
        timeout=10,
        json={"uow_id": "s3-urls", "type": "approval", "title": "Export me"},
    )
    assert created.status_code == 201, created.text
    submitted = requests.post(
        f"{runtime.url}/jobs",
        headers=requester,
        timeout=10,
        json={"tool": "export_interventions", "parameters": {"format": "csv"}},
    )
    assert submitted.status_code == 202, submitted.text
    deadline = time.monotonic() + 30
    while True:
        job = requests.get(f"{runtime.url}/jobs/{submitted.json()['id']}", headers=requester, timeout=10).json()
        if job["status"] == "COMPLETED" or time.monotonic() > deadline:
            assert job["status"] == "COMPLETED", (job, runtime.log[-3000:])
            (output,) = job["result"]["outputs"]
            return dict(output)
        time.sleep(0.2)


def with_path_of(url: str, other: str) -> str:
    """`url` (its signature) asking for the object of `other`."""
    return urlunsplit(urlsplit(url)._replace(path=urlsplit(other).path))


def port_of(runtime: RunningRuntime) -> int:
    return int(runtime.url.rsplit(":", 1)[1])


def emulator_endpoint(runtime: RunningRuntime) -> str:
    """moto's own address, as the banner prints it."""
    found = re.search(r"moto[^\n]*?(http://[\d.]+:\d+)", runtime.log)
    assert found, runtime.log
    return found.group(1)


def sdk(runtime: RunningRuntime) -> Any:
    """An S3 client of the stable address, signed with the local fake credentials."""
    return boto3.client(
        "s3",
        endpoint_url=f"{runtime.url}{S3_PATH}",
        region_name="us-east-1",
        config=Config(signature_version="s3v4"),
        **{name.lower(): value for name, value in FAKE_CREDENTIALS.items()},
    )


def test_an_output_url_outlives_a_restart_and_serves_no_other_key(launch: RuntimeLauncher, tmp_path: Path) -> None:
    # Given a runtime on a port of its own, with an export file for acme and one for globex
    state = tmp_path / "state"
    first = launch.start(state)
    acme, globex = exported_file(first, ACME), exported_file(first, GLOBEX)

    # Then acme's URL points at the API's own address, and downloads acme's file
    assert acme["url"].startswith(f"{first.url}{S3_PATH}/{BUCKET}/acme/"), acme["url"]
    before = requests.get(acme["url"], timeout=10)
    assert before.status_code == 200 and len(before.content) == acme["size_bytes"], before.text

    # ... but not globex's, substituted into it
    stolen = requests.get(with_path_of(acme["url"], globex["url"]), timeout=10)
    assert stolen.status_code == 403, stolen.text
    assert "<Code>SignatureDoesNotMatch</Code>" in stolen.text

    # When the runtime is stopped and started again on the same port
    assert first.stop() == 0, first.log
    launch.start(state, port=port_of(first))

    # Then the URL issued before the restart still downloads the same bytes
    after = requests.get(acme["url"], timeout=10)
    assert (after.status_code, after.content) == (200, before.content), after.text


def test_an_anonymous_listing_is_refused_on_both_addresses(runtime: RunningRuntime) -> None:
    # Given an object in the bucket, put by the SDK through the stable address (signed: it passes)
    sdk(runtime).put_object(Bucket=BUCKET, Key="acme/jobs/anonymous/out.csv", Body=b"id\n1\n")

    # When S3 is asked, unsigned, for the bucket's keys, or the buckets, on the stable address and on moto's port
    refused = [
        requests.get(f"{runtime.url}{S3_PATH}/{BUCKET}?list-type=2", timeout=10),
        requests.get(f"{runtime.url}{S3_PATH}/", timeout=10),
        requests.get(f"{emulator_endpoint(runtime)}/{BUCKET}?list-type=2", timeout=10),
        requests.get(f"{emulator_endpoint(runtime)}/{BUCKET}/acme/jobs/anonymous/out.csv", timeout=10),
    ]

    # Then each is a 403 AccessDenied, in S3's words, and no key is given away
    for response in refused:
        assert response.status_code == 403, (response.url, response.text)
        assert "<Code>AccessDenied</Code>" in response.text
        assert "acme/jobs" not in response.text
    # ... while the signed listing works
    listed = sdk(runtime).list_objects_v2(Bucket=BUCKET, Prefix="acme/jobs/anonymous/")
    assert [entry["Key"] for entry in listed["Contents"]] == ["acme/jobs/anonymous/out.csv"]


def test_an_expired_url_is_refused(runtime: RunningRuntime, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given an object, a URL for it signed two hours ago for one minute, and a fresh one
    client = sdk(runtime)
    client.put_object(Bucket=BUCKET, Key="acme/jobs/expired/out.csv", Body=b"id\n1\n")
    params = {"Bucket": BUCKET, "Key": "acme/jobs/expired/out.csv"}
    fresh = client.generate_presigned_url("get_object", Params=params, ExpiresIn=60)
    two_hours_ago = datetime.datetime.now(datetime.UTC).replace(tzinfo=None) - datetime.timedelta(hours=2)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda remove_tzinfo=True: two_hours_ago)
    stale = client.generate_presigned_url("get_object", Params=params, ExpiresIn=60)

    # When both are downloaded
    expired, served = requests.get(stale, timeout=10), requests.get(fresh, timeout=10)

    # Then the old one is refused as S3 refuses it, the fresh one served
    assert expired.status_code == 403, expired.text
    assert "<Message>Request has expired</Message>" in expired.text
    assert (served.status_code, served.content) == (200, b"id\n1\n")
