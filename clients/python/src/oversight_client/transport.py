"""One HTTP exchange over `urllib.request` (the standard library only): no
retries, no error mapping; those belong to the client.

Proxies come from the environment (`HTTPS_PROXY`, `NO_PROXY`...) as for any
urllib program; redirects are never followed (an API answer of 3xx is an
error to report, and following one would resend the token elsewhere).
"""

from __future__ import annotations

import http.client
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class RawResponse:
    status: int
    #: Header names in lower case.
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


class ConnectionFailure(Exception):
    """No answer. `delivered` is False when the request surely never reached the server
    (the connection was refused or failed while sending), True when it may have."""

    def __init__(self, message: str, *, delivered: bool, cause: BaseException) -> None:
        super().__init__(message)
        self.delivered = delivered
        self.cause = cause


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class UrllibTransport:
    """Sends one request and reads the whole answer, whatever its status."""

    def __init__(self) -> None:
        self._opener = urllib.request.build_opener(_NoRedirects())

    def send(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None, timeout: float
    ) -> RawResponse:
        # S310: the client only builds http(s) URLs (checked in Client.__init__).
        request = urllib.request.Request(url, data=body, method=method, headers=dict(headers))  # noqa: S310
        try:
            with self._opener.open(request, timeout=timeout) as answer:
                return RawResponse(answer.status, _lower(answer.headers), answer.read())
        except urllib.error.HTTPError as error:
            # Any status but 2xx arrives here (with its body), 304 and 3xx included.
            try:
                payload = error.read()
            except (OSError, http.client.HTTPException) as failure:
                raise ConnectionFailure(f"the answer was cut off: {failure}", delivered=True, cause=failure) from None
            finally:
                error.close()
            return RawResponse(error.code, _lower(error.headers), payload)
        except urllib.error.URLError as error:
            # urllib wraps what fails while connecting or sending: the server never saw a whole request.
            reason = error.reason
            cause = reason if isinstance(reason, BaseException) else error
            raise ConnectionFailure(_describe(cause), delivered=False, cause=cause) from None
        except (OSError, http.client.HTTPException) as error:
            # While waiting for or reading the answer: the server may have acted on the request.
            raise ConnectionFailure(_describe(error), delivered=True, cause=error) from None


def _lower(headers: Any) -> dict[str, str]:
    if headers is None:
        return {}
    return {str(name).lower(): str(value) for name, value in headers.items()}


def _describe(error: BaseException) -> str:
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, TimeoutError):
        return "timed out"
    if isinstance(error, http.client.RemoteDisconnected):
        return "the server closed the connection without answering"
    if isinstance(error, ConnectionResetError):
        return "connection reset"
    return str(error) or type(error).__name__
