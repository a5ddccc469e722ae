"""`Client`: every route of the Oversight API, typed.

    client = Client("https://api.example.com", token)
    decided = client.request_decision(uow_id="order-42", title="Refund 120 EUR?")

Requests are retried on 503 and on connection failures (honouring
`Retry-After`), creates carry an `Idempotency-Key` so that a retry never
creates twice, lists iterate across pages, and `wait` / `wait_job` poll with
`If-None-Match` and growing delays (never more than one request a second).
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import platform
import random as random_module
import time
import urllib.parse
import uuid
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, Protocol, TypeVar

from oversight_client._version import __version__
from oversight_client.errors import (
    Cancelled,
    Conflict,
    DecisionError,
    Expired,
    OversightError,
    Rejected,
    ServiceUnavailable,
    TransportError,
    UnexpectedResponse,
    WaitTimeout,
    error_for,
)
from oversight_client.models import (
    ApprovalOptions,
    Comment,
    CreatedWebhook,
    DailyStats,
    Escalation,
    Intervention,
    InterventionEvent,
    InterventionType,
    Job,
    JobLogLine,
    JobStatus,
    OnExpiry,
    Priority,
    Stats,
    Status,
    ToolInfo,
    Webhook,
)
from oversight_client.retries import MIN_INTERVAL_SECONDS, PollDelays, RetryPolicy, parse_retry_after
from oversight_client.transport import ConnectionFailure, RawResponse, UrllibTransport

URL_ENV = "OVERSIGHT_URL"
TOKEN_ENV = "OVERSIGHT_TOKEN"  # noqa: S105 - the name of a variable, not a secret
DEFAULT_USER_AGENT = f"oversight-client/{__version__} python/{platform.python_version()}"

#: Statuses in which an intervention is still waiting for people.
OPEN_STATUSES = frozenset({Status.PENDING, Status.IN_PROGRESS})
#: Statuses in which a job has stopped for good.
FINISHED_JOB_STATUSES = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.REJECTED})
#: `request_decision` returns these; the other closed statuses raise.
APPROVED_STATUSES = frozenset({Status.APPROVED, Status.COMPLETED})

M = TypeVar("M")
R = TypeVar("R")

#: After an intervention's `expires_at`, the sweep needs a moment to mark it EXPIRED.
EXPIRY_GRACE_SECONDS = 1.0

_SAFE_METHODS = frozenset({"GET", "HEAD"})
_NO_BODY: Any = object()


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Transport(Protocol):
    """What sends one HTTP request (the default is `UrllibTransport`)."""

    def send(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None, timeout: float
    ) -> RawResponse: ...


@dataclass(frozen=True)
class Response:
    """An answer of the API: status, headers (lower-case names) and JSON body (None when empty)."""

    status: int
    headers: dict[str, str]
    data: Any

    @property
    def replayed(self) -> bool:
        """The stored answer to an earlier request with the same Idempotency-Key."""
        return self.headers.get("idempotent-replayed", "").lower() == "true"


class Client:
    """The Oversight API over HTTP.

    `url` is the API's base address (a stage path such as `/prod` is kept);
    `token` a bearer JWT, or a function returning one (called for every
    request, so it may refresh it). `timeout` bounds each HTTP exchange;
    `max_retries` counts the retries of one call after a 503 or a failed
    connection. `clock`, `sleep`, `async_sleep`, `random` and `wall_clock`
    exist for tests.
    """

    def __init__(
        self,
        url: str,
        token: str | Callable[[], str] | None = None,
        *,
        timeout: float = 10.0,
        max_retries: int = 4,
        user_agent: str = DEFAULT_USER_AGENT,
        retry_policy: RetryPolicy | None = None,
        transport: Transport | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        async_sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        random: Callable[[], float] = random_module.random,
        wall_clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(f"the API address must be an http(s) URL such as https://api.example.com, not {url!r}")
        if not timeout > 0:
            raise ValueError(f"timeout must be more than 0 seconds, not {timeout}")
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.user_agent = user_agent
        self.retry_policy = retry_policy or RetryPolicy(max_retries=max_retries)
        self._token = token
        self._transport: Transport = transport or UrllibTransport()
        self._clock = clock
        self._sleep = sleep
        self._async_sleep = async_sleep
        self._random = random
        self._wall_clock = wall_clock

    @property
    def max_retries(self) -> int:
        return self.retry_policy.max_retries

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **options: Any) -> Client:
        """A client for `OVERSIGHT_URL` with `OVERSIGHT_TOKEN` (options as for `Client`)."""
        env = os.environ if environ is None else environ
        url = env.get(URL_ENV, "").strip()
        if not url:
            raise ValueError(f"{URL_ENV} is not set: export the API's address, e.g. {URL_ENV}=http://127.0.0.1:3000")
        return cls(url, env.get(TOKEN_ENV) or None, **options)

    def __repr__(self) -> str:
        return f"Client({self.url!r})"

    # ------------------------------------------------------------------ HTTP

    def request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, Any] | None = None,
        body: Any = _NO_BODY,
        headers: Mapping[str, str] | None = None,
        idempotency_key: str | None = None,
        max_retries: int | None = None,
    ) -> Response:
        """One call of the API with the retry rules; raises `OversightError` for any answer but 2xx and 304.

        A request that may have reached the server is retried only when that
        is harmless: a GET, or a create carrying its Idempotency-Key. Any
        request is retried after a 503 ("nothing was written") or a
        connection that never carried it.
        """
        method = method.upper()
        url = self._url(path, query)
        sent_headers = {"Accept": "application/json", "User-Agent": self.user_agent, **(headers or {})}
        token = self._token() if callable(self._token) else self._token
        if token:
            sent_headers["Authorization"] = f"Bearer {token}"
        payload: bytes | None = None
        if body is not _NO_BODY:
            payload = json.dumps(_to_json(body), separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()
            sent_headers["Content-Type"] = "application/json"
        elif method == "POST":
            payload = b""
        if idempotency_key is not None:
            sent_headers["Idempotency-Key"] = idempotency_key
        repeatable = method in _SAFE_METHODS or idempotency_key is not None
        budget = self.retry_policy.max_retries if max_retries is None else max_retries
        retry = 0
        while True:
            try:
                raw = self._transport.send(method, url, sent_headers, payload, self.timeout)
            except ConnectionFailure as failure:
                if retry < budget and (repeatable or not failure.delivered):
                    self._sleep(self.retry_policy.delay(retry, None, self._random))
                    retry += 1
                    continue
                raise _transport_error(method, url, failure, retry, repeatable) from failure.cause
            response = _response(raw)
            if 200 <= response.status < 300 or response.status == 304:
                return response
            error = error_for(response.status, response.data, response.headers)
            # A create retried while its first attempt is still being processed answers 409 `conflict`
            # ("the same Idempotency-Key is still in flight"): wait for the first to finish.
            in_flight = isinstance(error, Conflict) and idempotency_key is not None and retry > 0
            if (isinstance(error, ServiceUnavailable) or in_flight) and retry < budget:
                retry_after = parse_retry_after(response.headers.get("retry-after"))
                self._sleep(self.retry_policy.delay(retry, retry_after, self._random))
                retry += 1
                continue
            raise error

    def _url(self, path: str, query: Mapping[str, Any] | None) -> str:
        url = self.url + path
        if query:
            pairs = [(key, _query_value(value)) for key, value in query.items() if value is not None]
            if pairs:
                url += "?" + urllib.parse.urlencode(pairs)
        return url

    def _get(self, path: str, query: Mapping[str, Any] | None = None) -> Any:
        return self.request("GET", path, query=query).data

    def _post(self, path: str, body: Any = _NO_BODY, *, idempotency_key: str | None = None) -> Any:
        return self.request("POST", path, body=body, idempotency_key=idempotency_key).data

    def _pages(self, path: str, query: Mapping[str, Any], model: Callable[[Mapping[str, Any]], M]) -> Iterator[M]:
        """Every item of a paged list, reading the next page only when this one is used up."""
        params = dict(query)
        while True:
            page = self._get(path, params)
            if not isinstance(page, Mapping) or not isinstance(page.get("items"), list):
                raise UnexpectedResponse(200, "unexpected_response", f"GET {path} answered no `items` list")
            for item in page["items"]:
                yield _parse(model, item, path)
            cursor = page.get("next_cursor")
            if not cursor:
                return
            params["cursor"] = cursor

    # ------------------------------------------------------------------ service

    def health(self) -> dict[str, Any]:
        """`GET /health` (needs no token)."""
        return dict(self._get("/health"))

    def openapi(self) -> dict[str, Any]:
        """The API's OpenAPI document, `GET /openapi.json`."""
        return dict(self._get("/openapi.json"))

    # ------------------------------------------------------------------ interventions

    def create_intervention(
        self,
        *,
        uow_id: str,
        type: InterventionType | str,
        title: str,
        description: str | None = None,
        priority: Priority | str | None = None,
        context: Mapping[str, Any] | None = None,
        expires_in_seconds: int | None = None,
        required_role: str | None = None,
        assigned_to: str | None = None,
        required_approvals: int | None = None,
        on_expiry: OnExpiry | str | None = None,
        response_schema: Mapping[str, Any] | None = None,
        escalation: Escalation | Mapping[str, Any] | None = None,
        callback_url: str | None = None,
        callback_secret: str | None = None,
        task_token: str | None = None,
        idempotency_key: str | None = None,
    ) -> Intervention:
        """`POST /interventions`. Fields left None take the API's defaults; `idempotency_key` defaults
        to a fresh uuid4 that this call's retries reuse."""
        body: dict[str, Any] = {"uow_id": uow_id, "type": type, "title": title}
        optional = {
            "description": description,
            "priority": priority,
            "context": context,
            "expires_in_seconds": expires_in_seconds,
            "required_role": required_role,
            "assigned_to": assigned_to,
            "required_approvals": required_approvals,
            "on_expiry": on_expiry,
            "response_schema": response_schema,
            "escalation": escalation,
            "callback_url": callback_url,
            "callback_secret": callback_secret,
            "task_token": task_token,
        }
        body.update({name: value for name, value in optional.items() if value is not None})
        data = self._post("/interventions", body, idempotency_key=idempotency_key or _new_key())
        return _parse(Intervention.from_dict, data, "POST /interventions")

    def get_intervention(self, id: str) -> Intervention:
        """`GET /interventions/{id}`."""
        return _parse(Intervention.from_dict, self._get(_path("interventions", id)), "GET /interventions/{id}")

    def interventions(self, **filters: Any) -> Iterator[Intervention]:
        """`GET /interventions`, every page: filters `status` (a status, `OPEN` or `ALL`; the API's
        default is PENDING), `priority`, `type`, `required_role`, `assigned_to`, `uow_id`, and `limit`
        (the page size, 1-100)."""
        return self._pages("/interventions", filters, Intervention.from_dict)

    def events(self, id: str, **params: Any) -> Iterator[InterventionEvent]:
        """`GET /interventions/{id}/events`: the audit trail, oldest first, comments included."""
        return self._pages(_path("interventions", id, "events"), params, InterventionEvent.from_dict)

    def claim(self, id: str) -> Intervention:
        return self._transition(id, "claim", None)

    def release(self, id: str) -> Intervention:
        return self._transition(id, "release", None)

    def approve(self, id: str, reason: str, response: Any = None) -> Intervention:
        return self._transition(id, "approve", _decision(reason, response))

    def reject(self, id: str, reason: str, response: Any = None) -> Intervention:
        return self._transition(id, "reject", _decision(reason, response))

    def cancel(self, id: str, reason: str | None = None) -> Intervention:
        return self._transition(id, "cancel", {"reason": reason} if reason is not None else None)

    def complete(self, id: str, reason: str | None = None) -> Intervention:
        return self._transition(id, "complete", {"reason": reason} if reason is not None else None)

    def assign(self, id: str, user: str) -> Intervention:
        return self._transition(id, "assign", {"user": user})

    def comment(self, id: str, text: str) -> Comment:
        """`POST /interventions/{id}/comments`."""
        data = self._post(_path("interventions", id, "comments"), {"text": text})
        return _parse(Comment.from_dict, data, "POST /interventions/{id}/comments")

    def _transition(self, id: str, action: str, body: Mapping[str, Any] | None) -> Intervention:
        data = self._post(_path("interventions", id, action), dict(body) if body is not None else {})
        return _parse(Intervention.from_dict, data, f"POST /interventions/{{id}}/{action}")

    # ------------------------------------------------------------------ waiting

    def wait(self, id: str, timeout: float | None = None) -> Intervention:
        """The intervention once it is closed (not PENDING nor IN_PROGRESS), whatever the outcome.

        Polls `GET /interventions/{id}` with `If-None-Match` (a 304 means
        unchanged), 1 s apart at first and up to 10 s apart, never more than
        once a second; raises `WaitTimeout` (with the last intervention seen)
        once `timeout` seconds have passed.
        """
        return _run_sync(self._intervention_waiter(id, timeout, None), self._sleep)

    async def wait_async(self, id: str, timeout: float | None = None) -> Intervention:
        """`wait` for asyncio: the requests run in a thread, the pauses are `asyncio.sleep`."""
        return await _run_async(self._intervention_waiter(id, timeout, None), self._async_sleep)

    def request_decision(
        self,
        *,
        uow_id: str,
        title: str,
        type: InterventionType | str = "approval",
        timeout: float | None = None,
        **fields: Any,
    ) -> Intervention:
        """Create an intervention (fields as for `create_intervention`) and wait for its decision.

        Returns it APPROVED (or COMPLETED); raises `Rejected`, `Expired` or
        `Cancelled` (each with the intervention), or `WaitTimeout`.
        """
        created = self.create_intervention(uow_id=uow_id, type=type, title=title, **fields)
        return _decided(_run_sync(self._intervention_waiter(created.id, timeout, created), self._sleep))

    async def request_decision_async(
        self,
        *,
        uow_id: str,
        title: str,
        type: InterventionType | str = "approval",
        timeout: float | None = None,
        **fields: Any,
    ) -> Intervention:
        """`request_decision` for asyncio (the event loop is never blocked)."""
        created = await asyncio.to_thread(
            lambda: self.create_intervention(uow_id=uow_id, type=type, title=title, **fields)
        )
        waiter = self._intervention_waiter(created.id, timeout, created)
        return _decided(await _run_async(waiter, self._async_sleep))

    def _intervention_waiter(self, id: str, timeout: float | None, seen: Intervention | None) -> _Waiter[Intervention]:
        return _Waiter(
            self,
            _path("interventions", id),
            Intervention.from_dict,
            lambda record: record.status not in OPEN_STATUSES,
            timeout,
            seen,
            lambda last, waited: WaitTimeout(
                f"intervention {id} still {last.status if last else 'open'} after {waited:.0f} s", last, None, waited
            ),
            lambda record: record.expires_at,
        )

    # ------------------------------------------------------------------ jobs

    def tools(self) -> list[ToolInfo]:
        """`GET /tools`: each tool with its parameters' JSON Schema."""
        return list(self._pages("/tools", {}, ToolInfo.from_dict))

    def submit(
        self,
        tool: str,
        parameters: Mapping[str, Any] | None = None,
        *,
        use_cache: bool = True,
        requires_approval: bool = False,
        approval: ApprovalOptions | Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> Job:
        """`POST /jobs`: run `tool` with `parameters`; `approval` (with `requires_approval`) shapes the gate."""
        body: dict[str, Any] = {
            "tool": tool,
            "parameters": dict(parameters or {}),
            "use_cache": use_cache,
            "requires_approval": requires_approval,
        }
        if approval is not None:
            body["approval"] = approval
        data = self._post("/jobs", body, idempotency_key=idempotency_key or _new_key())
        return _parse(Job.from_dict, data, "POST /jobs")

    def get_job(self, id: str) -> Job:
        return _parse(Job.from_dict, self._get(_path("jobs", id)), "GET /jobs/{id}")

    def jobs(self, **filters: Any) -> Iterator[Job]:
        """`GET /jobs`, newest first, every page: filters `status`, `tool`, and `limit` (the page size)."""
        return self._pages("/jobs", filters, Job.from_dict)

    def cancel_job(self, id: str) -> Job:
        return _parse(Job.from_dict, self._post(_path("jobs", id, "cancel")), "POST /jobs/{id}/cancel")

    def logs(self, id: str, **params: Any) -> Iterator[JobLogLine]:
        """`GET /jobs/{id}/logs`, every page."""
        return self._pages(_path("jobs", id, "logs"), params, JobLogLine.from_dict)

    def wait_job(self, id: str, timeout: float | None = None) -> Job:
        """The job once finished (COMPLETED, FAILED, CANCELLED or REJECTED), polling as `wait` does."""
        return _run_sync(self._job_waiter(id, timeout), self._sleep)

    async def wait_job_async(self, id: str, timeout: float | None = None) -> Job:
        return await _run_async(self._job_waiter(id, timeout), self._async_sleep)

    def _job_waiter(self, id: str, timeout: float | None) -> _Waiter[Job]:
        return _Waiter(
            self,
            _path("jobs", id),
            Job.from_dict,
            lambda job: job.status in FINISHED_JOB_STATUSES,
            timeout,
            None,
            lambda last, waited: WaitTimeout(
                f"job {id} still {last.status if last else 'running'} after {waited:.0f} s", None, last, waited
            ),
        )

    # ------------------------------------------------------------------ stats and webhooks

    def stats(self) -> Stats:
        """`GET /stats`: the dashboard's figures."""
        return _parse(Stats.from_dict, self._get("/stats"), "GET /stats")

    def daily_stats(self, days: int = 30) -> DailyStats:
        """`GET /stats/daily?days=N` (1-90): one entry per day, oldest first."""
        return _parse(DailyStats.from_dict, self._get("/stats/daily", {"days": days}), "GET /stats/daily")

    def webhooks(self) -> list[Webhook]:
        """`GET /webhooks` (admin): the tenant's subscriptions, oldest first, without secrets."""
        return list(self._pages("/webhooks", {}, Webhook.from_dict))

    def create_webhook(self, url: str, events: Sequence[str] = ("*",), description: str = "") -> CreatedWebhook:
        """`POST /webhooks` (admin): the answer alone carries the signing `secret`."""
        body = {"url": url, "events": list(events), "description": description}
        return _parse(CreatedWebhook.from_dict, self._post("/webhooks", body), "POST /webhooks")

    def delete_webhook(self, id: str) -> None:
        self.request("DELETE", _path("webhooks", id))


class _Waiter(Generic[R]):
    """One wait: polls a record until `done(record)`, pausing between polls per `PollDelays`.

    `step()` does one poll and says either "finished" (the record) or how long
    to pause; the sync and async loops only differ in how they pause.
    """

    def __init__(
        self,
        client: Client,
        path: str,
        model: Callable[[Mapping[str, Any]], R],
        done: Callable[[R], bool],
        timeout: float | None,
        seen: R | None,
        timed_out: Callable[[R | None, float], WaitTimeout],
        expires: Callable[[R], datetime | None] | None = None,
    ) -> None:
        if timeout is not None and (math.isnan(timeout) or timeout < 0):
            raise ValueError(f"timeout must be 0 or more seconds, or None to wait as long as it takes; not {timeout}")
        self._client = client
        self._path = path
        self._model = model
        self._done = done
        self._timed_out = timed_out
        self._expires = expires
        self._expiry_ahead = False
        self._delays = PollDelays(client._random)
        self._etag: str | None = None
        self._last: R | None = seen
        self._started = client._clock()
        self._deadline = None if timeout is None else self._started + timeout
        # With a record in hand (just created), the first poll waits for the first pause.
        self._last_request = self._started if seen is not None else None

    def first_pause(self) -> float:
        if self._last is None:
            return 0.0
        if self._done(self._last):
            return 0.0
        return self._pause(self._client._clock())

    def step(self) -> tuple[R | None, float]:
        """Poll once: (the finished record, 0) or (None, seconds to pause); raises `WaitTimeout`."""
        clock = self._client._clock
        if self._last is not None and self._done(self._last):
            return self._last, 0.0
        self._last_request = clock()
        record = self._poll()
        if self._done(record):
            return record, 0.0
        now = clock()
        if self._deadline is not None and now >= self._deadline:
            raise self._timed_out(record, now - self._started)
        return None, self._pause(now)

    def _pause(self, now: float) -> float:
        until_expiry = self._until_expiry()
        if until_expiry is not None and until_expiry <= 0 and self._expiry_ahead:
            # The record just ran out: the sweep is about to close it, so poll soon again.
            self._delays = PollDelays(self._client._random)
        self._expiry_ahead = until_expiry is not None and until_expiry > 0
        pause = self._delays.next()
        if until_expiry is not None and until_expiry > 0:
            # A poll just after the expiry rather than up to 10 s later.
            pause = min(pause, until_expiry)
        if self._deadline is not None:
            # One last poll at the deadline rather than a long sleep past it.
            pause = min(pause, max(self._deadline - now, 0.0))
        if self._last_request is not None:
            pause = max(pause, self._last_request + MIN_INTERVAL_SECONDS - now)
        return pause

    def _until_expiry(self) -> float | None:
        """Seconds until the record in hand should have expired (its `expires_at` and a grace)."""
        if self._expires is None or self._last is None:
            return None
        expiry = self._expires(self._last)
        if expiry is None:
            return None
        return (expiry - self._client._wall_clock()).total_seconds() + EXPIRY_GRACE_SECONDS

    def _poll(self) -> R:
        headers = {"If-None-Match": self._etag} if self._etag and self._last is not None else {}
        response = self._client.request("GET", self._path, headers=headers)
        if response.status == 304 and self._last is not None:
            return self._last
        if response.status == 304:
            # Unchanged, but nothing in hand to reuse: read it whole.
            response = self._client.request("GET", self._path)
        record = _parse(self._model, response.data, f"GET {self._path}")
        self._etag = response.headers.get("etag") or None
        self._last = record
        return record


def _run_sync(waiter: _Waiter[R], sleep: Callable[[float], None]) -> R:
    pause = waiter.first_pause()
    while True:
        if pause > 0:
            sleep(pause)
        record, pause = waiter.step()
        if record is not None:
            return record


async def _run_async(waiter: _Waiter[R], sleep: Callable[[float], Awaitable[None]]) -> R:
    pause = waiter.first_pause()
    while True:
        if pause > 0:
            await sleep(pause)
        record, pause = await asyncio.to_thread(waiter.step)
        if record is not None:
            return record


def _decided(intervention: Intervention) -> Intervention:
    status = intervention.status
    if status in APPROVED_STATUSES:
        return intervention
    if status == Status.REJECTED:
        raise Rejected(intervention)
    if status == Status.EXPIRED:
        raise Expired(intervention)
    if status == Status.CANCELLED:
        raise Cancelled(intervention)
    raise DecisionError(f"intervention {intervention.id} closed as {status}, not approved", intervention)


def _decision(reason: str, response: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"reason": reason}
    if response is not None:
        body["response"] = response
    return body


def _path(*parts: str) -> str:
    return "".join("/" + urllib.parse.quote(str(part), safe="") for part in parts)


def _new_key() -> str:
    return str(uuid.uuid4())


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _to_json(value: Any) -> Any:
    """A request body as JSON types: models by their `to_dict`, tuples as lists."""
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict) and not isinstance(value, type):
        return _to_json(to_dict())
    if isinstance(value, Mapping):
        return {str(key): _to_json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_json(item) for item in value]
    return value


def _response(raw: RawResponse) -> Response:
    data: Any = None
    if raw.body:
        text = raw.body.decode("utf-8", errors="replace")
        try:
            data = json.loads(text)
        except ValueError:
            if 200 <= raw.status < 300:
                raise UnexpectedResponse(
                    raw.status, "unexpected_response", f"the API answered {raw.status} with a body that is not JSON"
                ) from None
            data = text
    return Response(raw.status, raw.headers, data)


def _parse(model: Callable[[Mapping[str, Any]], M], data: Any, what: str) -> M:
    if not isinstance(data, Mapping):
        raise UnexpectedResponse(200, "unexpected_response", f"{what} answered {type(data).__name__}, not an object")
    try:
        return model(data)
    except KeyError as missing:
        raise UnexpectedResponse(200, "unexpected_response", f"{what} answered a record without {missing}") from None
    except (TypeError, ValueError) as error:
        raise UnexpectedResponse(
            200, "unexpected_response", f"{what} answered a record this client cannot read: {error}"
        ) from error


def _transport_error(
    method: str, url: str, failure: ConnectionFailure, retries: int, repeatable: bool
) -> OversightError:
    where = urllib.parse.urlsplit(url)
    target = f"{method} {where.scheme}://{where.netloc}{where.path}"
    tries = f" after {retries} retr{'y' if retries == 1 else 'ies'}" if retries else ""
    message = f"{target}: {failure}{tries}"
    if failure.delivered and not repeatable:
        message += "; the request may have been applied: check before repeating it"
    return TransportError(message)
