"""Calls out of the service: the host guard every outbound request passes
(the `http_post` tool, webhooks, per-request callbacks) and the one signed
POST that webhooks and callbacks are delivered with.

The guard has two parts. An allow-list, from an environment variable of
comma-separated `host` (the scheme's default port only) or `host:port`
entries; empty allows nothing. And the address: a host is resolved and
every address it resolves to must be public; a private, loopback,
link-local (the instance metadata service), reserved or multicast address
is refused unless that address itself is allow-listed (`127.0.0.1:8080`).
A delivery connects to the address that was checked, not to a second
resolution of the name, so a DNS answer that changes in between cannot aim
it elsewhere. Redirects are never followed: one could leave the allow-list."""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import ipaddress
import os
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit, urlunsplit

from oversight.errors import ValidationFailed

DEFAULT_PORTS = {"http": 80, "https": 443}
# Read at most this much of a receiver's answer (its status is what counts).
_ANSWER_CAP_BYTES = 4096


class HostRefused(ValueError):
    """A destination the guard does not allow (the message says why)."""


@dataclass(frozen=True)
class Destination:
    """A URL the guard allowed, with the address a request must connect to."""

    url: str
    scheme: str
    host: str
    port: int
    address: str

    @property
    def target(self) -> str:
        """The request target: the path and query, never the user info or fragment."""
        parts = urlsplit(self.url)
        return urlunsplit(("", "", parts.path or "/", parts.query, ""))


def allowed_hosts(variable: str) -> set[tuple[str, int | None]]:
    """(host, port) pairs of the allow-list in `variable`; port None means
    the scheme's default port. Read on every call, never cached: the check
    right before a request must see the setting in force then."""
    entries = (entry.strip() for entry in os.environ.get(variable, "").split(","))
    return {_host_and_port(variable, entry) for entry in entries if entry}


def _host_and_port(variable: str, entry: str) -> tuple[str, int | None]:
    malformed = HostRefused(f"{variable} entry {entry!r} is not `host` or `host:port`")
    parts = urlsplit(f"//{entry}")
    try:
        port = parts.port
    except ValueError as error:  # not a number, or out of range
        raise malformed from error
    if not parts.hostname or parts.path or parts.query or parts.fragment or parts.username is not None:
        raise malformed
    return parts.hostname, port


def netloc(parts: SplitResult) -> str:
    """host:port, without any user info (it may be a secret)."""
    return parts.netloc.rpartition("@")[2]


def _listed(host: str, port: int, scheme: str, allowed: set[tuple[str, int | None]]) -> bool:
    return (host, port) in allowed or (port == DEFAULT_PORTS[scheme] and (host, None) in allowed)


def refusal(url: str, variable: str) -> str | None:
    """Why `url`'s host may not be called (not in the allow-list of
    `variable`), or None. Raises HostRefused for a malformed setting."""
    parts = urlsplit(url)
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        return "only http and https URLs with a host can be called"
    port = parts.port or DEFAULT_PORTS[parts.scheme]
    if _listed(parts.hostname, port, parts.scheme, allowed_hosts(variable)):
        return None
    return f"host {netloc(parts)} is not in {variable}"


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def addresses(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (an address literal: itself)."""
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        pass
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def checked(url: str, variable: str, resolve: bool = True) -> Destination:
    """The destination of `url` if the guard allows it, else HostRefused.
    `resolve=False` (a check at creation) accepts a name that does not
    resolve yet: the check before each delivery resolves it again."""
    reason = refusal(url, variable)
    if reason:
        raise HostRefused(reason)
    parts = urlsplit(url)
    host, scheme = parts.hostname or "", parts.scheme
    port = parts.port or DEFAULT_PORTS[scheme]
    try:
        found = addresses(host, port)
    except OSError as error:
        if not resolve:
            return Destination(url, scheme, host, port, "")
        raise HostRefused(f"host {host} does not resolve ({error.strerror or error})") from None
    allowed = allowed_hosts(variable)
    for address in found:
        if not is_public(address) and not _listed(address, port, scheme, allowed):
            raise HostRefused(
                f"host {host} resolves to the non-public address {address}, which is not itself in {variable}"
            )
    return Destination(url, scheme, host, port, found[0])


def check_destination(url: str, variable: str, field: str) -> None:
    """A URL given at creation (a callback, a subscription) whose host
    resolves to a non-public address not itself listed is refused: 422
    naming `field`. The request's model checked the rest without I/O; a
    name that does not resolve yet is accepted: each delivery resolves it
    again."""
    try:
        checked(url, variable, resolve=False)
    except HostRefused as refused:
        raise ValidationFailed.field(["body", field], str(refused)) from None


# ---------------------------------------------------------------- signing and delivery
def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The Standard Webhooks signature header value: `v1,` + base64 of the
    HMAC-SHA256 of `{id}.{timestamp}.{body}`, keyed by the secret's UTF-8 bytes."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed_headers(secret: str, message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "user-agent": "Oversight-Webhooks/1",
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(secret, message_id, timestamp, body),
    }


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to the checked address; the Host header names the host."""

    def __init__(self, destination: Destination, timeout: float) -> None:
        super().__init__(destination.host, destination.port, timeout=timeout)
        self._address = destination.address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """TLS to the checked address, the certificate verified for the host name."""

    def __init__(self, destination: Destination, timeout: float) -> None:
        super().__init__(destination.host, destination.port, timeout=timeout, context=ssl.create_default_context())
        self._address = destination.address

    def connect(self) -> None:
        raw = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(raw, server_hostname=self.host)  # type: ignore[attr-defined]


def post(destination: Destination, body: bytes, headers: dict[str, str], timeout: float) -> int:
    """POST `body` to the checked destination; the answer's status (a
    redirect is an answer like any other, never followed). OSError or
    http.client.HTTPException when no answer came (a timeout included)."""
    kind = _PinnedHTTPSConnection if destination.scheme == "https" else _PinnedHTTPConnection
    connection = kind(destination, timeout)
    try:
        connection.request("POST", destination.target, body=body, headers=headers)
        with connection.getresponse() as response:
            response.read(_ANSWER_CAP_BYTES)
            return response.status
    finally:
        connection.close()
