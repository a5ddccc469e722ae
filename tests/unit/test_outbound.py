"""The outbound guard and the signature (oversight.outbound), and the
delivery schedule (oversight.delivery)."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from oversight import outbound
from oversight.delivery import RETRY_DELAYS, retry_delay, task_cause
from oversight.outbound import HostRefused, checked

VAR = "TEST_ALLOWED_HOSTS"


@pytest.fixture
def allow(monkeypatch: pytest.MonkeyPatch):
    return lambda value: monkeypatch.setenv(VAR, value)


def test_only_listed_hosts_pass_and_a_port_must_match(allow):
    allow("hooks.example.com,203.0.113.7:8443")
    assert outbound.refusal("https://hooks.example.com/x", VAR) is None
    assert outbound.refusal("http://hooks.example.com:80/x", VAR) is None
    assert "not in TEST_ALLOWED_HOSTS" in outbound.refusal("https://hooks.example.com:444/x", VAR)
    assert outbound.refusal("https://203.0.113.7:8443/", VAR) is None
    assert "not in" in outbound.refusal("https://203.0.113.7/", VAR)
    assert "http and https" in outbound.refusal("file:///etc/passwd", VAR)


def test_an_empty_allow_list_allows_nothing(allow):
    allow("")
    with pytest.raises(HostRefused, match="not in TEST_ALLOWED_HOSTS"):
        checked("https://203.0.113.7/", VAR)


def test_a_malformed_entry_refuses_everything_and_names_itself(allow):
    allow("hooks.example.com/path")
    with pytest.raises(HostRefused, match="entry 'hooks.example.com/path'"):
        checked("https://hooks.example.com/", VAR)


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", "10.0.0.8", "172.16.3.4", "192.168.1.1", "169.254.169.254", "0.0.0.0", "100.64.0.1", "224.0.0.1"],  # noqa: S104
)
def test_a_name_resolving_to_a_non_public_address_is_refused_unless_that_address_is_listed(allow, monkeypatch, address):
    monkeypatch.setattr(outbound, "addresses", lambda host, port: [address])
    allow("hooks.example.com")
    with pytest.raises(HostRefused, match=f"non-public address {address}"):
        checked("https://hooks.example.com/", VAR)
    allow(f"hooks.example.com,{address}:443")
    assert checked("https://hooks.example.com/", VAR).address == address


def test_every_address_a_name_resolves_to_is_checked(allow, monkeypatch):
    monkeypatch.setattr(outbound, "addresses", lambda host, port: ["93.184.216.34", "10.0.0.1"])
    allow("hooks.example.com")
    with pytest.raises(HostRefused, match="10.0.0.1"):
        checked("https://hooks.example.com/", VAR)


@pytest.mark.parametrize("address", ["::1", "fe80::1", "fc00::1", "::ffff:127.0.0.1", "::ffff:169.254.169.254"])
def test_ipv6_loopback_link_local_private_and_mapped_addresses_are_not_public(address):
    assert not outbound.is_public(address)


def test_a_public_address_is_public():
    assert outbound.is_public("8.8.8.8") and outbound.is_public("2001:4860:4860::8888")


def test_the_destination_connects_to_the_checked_address(allow, monkeypatch):
    monkeypatch.setattr(outbound, "addresses", lambda host, port: ["93.184.216.34"])
    allow("hooks.example.com")
    found = checked("https://hooks.example.com/in?x=1#frag", VAR)
    assert (found.host, found.port, found.address, found.target) == (
        "hooks.example.com",
        443,
        "93.184.216.34",
        "/in?x=1",
    )


def test_an_unresolvable_name_is_refused_before_a_delivery_but_accepted_at_creation(allow, monkeypatch):
    def fail(host: str, port: int) -> list[str]:
        raise OSError("no such host")

    monkeypatch.setattr(outbound, "addresses", fail)
    allow("later.example.com")
    assert checked("https://later.example.com/", VAR, resolve=False).address == ""
    with pytest.raises(HostRefused, match="does not resolve"):
        checked("https://later.example.com/", VAR)


def test_the_signature_is_standard_webhooks_v1_keyed_by_the_secrets_text():
    body = b'{"a":1}'
    expected = hmac.new(b"my-secret", b"msg_1.1700000000." + body, hashlib.sha256).digest()
    assert outbound.signature("my-secret", "msg_1", 1700000000, body) == "v1," + base64.b64encode(expected).decode()
    headers = outbound.signed_headers("my-secret", "msg_1", 1700000000, body)
    assert (headers["webhook-id"], headers["webhook-timestamp"]) == ("msg_1", "1700000000")


def test_retries_grow_and_last_over_an_hour():
    delays = [retry_delay(attempt) for attempt in range(1, 8)]
    assert delays == list(RETRY_DELAYS) == sorted(delays)
    assert sum(delays) >= 3600
    assert retry_delay(20) == RETRY_DELAYS[-1]
    assert [retry_delay(a, 0.01) for a in range(1, 8)] == [1, 1, 2, 3, 5, 10, 20]


def test_a_failure_cause_stays_within_step_functions_limit_as_json():
    import json

    output = {
        "id": "x",
        "status": "REJECTED",
        "decided_by": "u",
        "decision_reason": "r" * 2000,
        "response": {"big": "y" * 40_000},
        "approvals": [{"user": f"u{n}", "at": "t", "reason": "ok", "response": "z" * 16_000} for n in range(10)],
    }
    cause = task_cause(output)
    assert len(cause) <= 32_768
    parsed = json.loads(cause)
    assert parsed["truncated"] is True and parsed["response"] is None
    assert [a["user"] for a in parsed["approvals"]] == [f"u{n}" for n in range(10)]
    small = {**output, "response": None, "approvals": []}
    assert json.loads(task_cause(small)) == small
