"""HTTP glue shared by the API functions: the resolver (routes bound to
the contract's operations, unknown query parameters refused), the single
mapping of errors to the spec's error body (a dependency fault, as
oversight.store.faults classifies it, is 503 + Retry-After), the
Idempotency-Key header and the replay mark of keyed answers, and the
handler wrapper that authenticates the caller and enforces the body-size
limit before routing."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.event_handler.openapi.dependant import get_dependant
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Header, Query
from aws_lambda_powertools.logging import correlation_paths
from pydantic import BaseModel

import oversight.restore  # noqa: F401  # reseeds the random state after a SnapStart restore
from oversight.auth import Principal, principal_from_claims
from oversight.contract import JSON, OPERATIONS
from oversight.errors import NotFound, OversightError, PayloadTooLarge, ServiceUnavailable, ValidationFailed
from oversight.json_body import parse_json_body
from oversight.models import ErrorBody, Intervention, Job
from oversight.observability import entry_point, logger, metrics
from oversight.replays import watch_replays

ModelT = TypeVar("ModelT", bound=BaseModel)
HandlerT = TypeVar("HandlerT", bound=Callable[..., Any])

MAX_BODY_BYTES = 64 * 1024

# The query parameters of every paged list: how many items, and where the previous page ended.
Limit = Annotated[int, Query(ge=1, le=100)]
Cursor = Annotated[str | None, Query(min_length=1, max_length=2048)]


def json_response(status: int, model: ModelT) -> Response[ModelT]:
    return Response(status_code=status, content_type=JSON, body=model)


def replayable_response(status: int, answer: Callable[[], ModelT]) -> Response[ModelT]:
    """`answer()` with `status`, marked `Idempotent-Replayed: true` when a
    keyed request was answered from its idempotency record."""
    with watch_replays() as replay:
        model = answer()
    response = json_response(status, model)
    response.headers.update(replay.headers)
    return response


def idempotency_key_header(what: str) -> Header:
    """The optional Idempotency-Key request header of a retry-safe `what`
    (a creation, a submission): the same key and body within 24 h get the
    first answer (oversight.idempotency)."""
    return Header(alias="Idempotency-Key", min_length=1, max_length=128, description=f"Retry-safe {what} (24 h)")


class NotModified(Exception):
    """The caller's copy is current: 304, no body, its ETag."""

    def __init__(self, tag: str) -> None:
        super().__init__(tag)
        self.tag = tag


def _on_not_modified(error: NotModified) -> Response:
    return Response(status_code=304, headers={"ETag": error.tag})


def if_none_match_header() -> Header:
    """The optional If-None-Match request header of a record's GET: the
    ETags (or `*`) of the copies the caller holds."""
    return Header(
        alias="If-None-Match",
        max_length=1024,
        description="ETag(s) of the copy you hold: 304 with no body while it is current",
    )


def entity_tag(version: int, weak: bool = False) -> str:
    """A record's ETag: its version, which every change moves on. Weak for
    a job, whose answer differs byte for byte between reads (its output
    files' presigned URLs) while the job is the same."""
    return f'{"W/" if weak else ""}"{version}"'


def _matches(if_none_match: str, tag: str) -> bool:
    """RFC 9110 weak comparison: W/ prefixes aside, any listed tag, or `*`."""
    offered = [part.strip().removeprefix("W/") for part in if_none_match.split(",")]
    return "*" in offered or tag.removeprefix("W/") in offered


# The records served with an ETag.
RecordT = TypeVar("RecordT", Intervention, Job)


def record_response(record: RecordT, if_none_match: str | None) -> Response[RecordT]:
    """200 with the record and its ETag, or 304 (no body, the same ETag)
    when `if_none_match` names it: the record was read either way (one
    GetItem), only the answer is spared."""
    tag = entity_tag(record.version, weak=isinstance(record, Job))
    if if_none_match is not None and _matches(if_none_match, tag):
        raise NotModified(tag)  # answered by the resolver: no body to validate against the route's model
    response = json_response(200, record)
    response.headers["ETag"] = tag
    return response


def _error_body(error: OversightError) -> str:
    return ErrorBody(code=error.code, message=error.message, details=error.details).model_dump_json(exclude_none=True)


def error_response(error: OversightError) -> Response:
    return Response(status_code=error.status, content_type=JSON, body=_error_body(error), headers=error.headers)


def _validation_details(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    details = []
    for error in errors:
        loc = [part for part in error.get("loc", ()) if not (error.get("type") == "json_invalid" and part != "body")]
        # Never echo the input back: it can be large or sensitive.
        details.append({"loc": loc, "msg": error.get("msg", "invalid"), "type": error.get("type", "value_error")})
    return details


def _on_validation_error(exc: RequestValidationError) -> Response:
    details = _validation_details(list(exc.errors()))
    fields = sorted({".".join(str(p) for p in d["loc"]) for d in details})
    message = f"Invalid request: {', '.join(fields)}" if fields else "Invalid request"
    return Response(
        status_code=422,
        content_type=JSON,
        body=ErrorBody(code="validation_error", message=message, details=details).model_dump_json(),
    )


def _on_domain_error(exc: OversightError) -> Response:
    if isinstance(exc, ServiceUnavailable):
        return _on_dependency_fault(exc, exc)
    if exc.status >= 500:
        logger.exception("request failed")
    return error_response(exc)


def _on_dependency_fault(fault: ServiceUnavailable, cause: Exception) -> Response:
    """503 + Retry-After: AWS throttled or failed us after the client's own
    retries. Expected under load, so a warning and a metric, not a trace."""
    correlation_id = logger.get_correlation_id() or "unknown"
    logger.warning(
        "dependency fault; answered 503",
        extra={"operation": fault.operation, "error_code": fault.error_code, "error": str(cause)},
    )
    metrics.add_metric(
        name="DependencyThrottled" if fault.throttled else "DependencyUnavailable", unit="Count", value=1
    )
    answer = ServiceUnavailable(
        f"{fault.message}; correlation id {correlation_id}",
        throttled=fault.throttled,
        retry_after_seconds=fault.retry_after_seconds,
    )
    return error_response(answer)


def _on_unexpected(exc: Exception) -> Response:
    # lazy: the data-access package (boto3, botocore) costs ~42 ms of import (30-75 ms measured, 7 runs), kept
    # off the cold start of the functions that never call AWS (health, the OpenAPI document).
    from oversight.store.faults import dependency_fault

    fault = dependency_fault(exc)
    if fault is not None:
        return _on_dependency_fault(fault, exc)
    logger.exception("unhandled error")
    metrics.add_metric(name="UnhandledError", unit="Count", value=1)
    correlation_id = logger.get_correlation_id() or "unknown"
    error = OversightError(f"Internal error; correlation id {correlation_id}")
    return error_response(error)


def _reject_unknown_query_parameters(app: ApiResolver, next_middleware: NextMiddleware) -> Response:
    """A misspelt filter (`?stauts=APPROVED`) would silently answer another
    question; name it instead, like an unknown body field."""
    unknown = sorted(set(app.current_event.query_string_parameters or {}) - app.declared_query_parameters())
    if unknown:
        raise ValidationFailed(
            f"Invalid request: {', '.join(f'query.{name}' for name in unknown)}",
            [{"loc": ["query", name], "msg": "Unknown query parameter", "type": "extra_forbidden"} for name in unknown],
        )
    return next_middleware(app)


def _rule(path: str) -> str:
    """An OpenAPI path as Powertools' route rule: /jobs/{id} -> /jobs/<id>."""
    return re.sub(r"\{(\w+)\}", r"<\1>", path)


class ApiResolver(APIGatewayHttpResolver):
    """Powertools' HTTP API resolver as every API function uses it: request
    validation with the strict JSON reader, the error mapping, unknown query
    parameters refused. Routes are declared with `operation`, by their
    contract entry."""

    def __init__(self) -> None:
        # Powertools parses a body once, when a route takes one; with our reader
        # that parse is the strict one (no NaN, no overflowing numbers, bounded depth).
        super().__init__(enable_validation=True, json_body_deserializer=parse_json_body)
        self._handlers: dict[str, Callable[..., Any]] = {}
        self._query_parameters: dict[str, frozenset[str]] = {}
        self.use(middlewares=[_reject_unknown_query_parameters])
        self.exception_handler(RequestValidationError)(_on_validation_error)
        self.exception_handler(OversightError)(_on_domain_error)
        self.exception_handler(NotModified)(_on_not_modified)
        self.exception_handler(Exception)(_on_unexpected)
        self.not_found(_on_no_route)

    def operation(self, route_key: str) -> Callable[[HandlerT], HandlerT]:
        """Route `route_key` ("GET /jobs/{id}") to the decorated handler,
        documented as oversight.contract.OPERATIONS says."""
        method, path = route_key.split(" ", 1)
        documented = OPERATIONS[route_key]
        register = self.route(
            _rule(path),
            method,
            operation_id=documented.operation_id,
            tags=[documented.tag],
            summary=documented.summary,
            responses=documented.responses,
        )

        def remember(handler: HandlerT) -> HandlerT:
            self._handlers[route_key] = handler  # for declared_query_parameters
            return register(handler)

        return remember

    def declared_query_parameters(self) -> frozenset[str]:
        """The query parameters (their names as sent) that the handler of the
        matched route takes, as Powertools reads its signature; none when no
        route matched. Found by the request's route key (Powertools' public
        `app.request`), computed once per route."""
        request = self.request
        key = f"{request.method} {request.route}"
        names = self._query_parameters.get(key)
        if names is None:
            handler = self._handlers.get(key)
            dependant = get_dependant(path=request.route, call=handler) if handler else None
            names = frozenset(param.alias for param in dependant.query_params) if dependant else frozenset()
            self._query_parameters[key] = names
        return names


def _on_no_route(_: Exception) -> Response:
    return error_response(NotFound("No such route"))


def build_resolver() -> ApiResolver:
    return ApiResolver()


def current_principal(app: APIGatewayHttpResolver) -> Principal:
    return app.context["principal"]


def _body_bytes(event: dict[str, Any]) -> bytes | None:
    """The body as sent, a base64 one decoded (once); None if it is not base64."""
    body = event.get("body") or ""
    if not event.get("isBase64Encoded"):
        return body.encode("utf-8", "surrogatepass")
    try:
        return base64.b64decode(body, validate=True)
    except ValueError:
        return None


def _authorizer_claims(event: dict[str, Any]) -> tuple[dict[str, Any] | None, list[str]]:
    jwt = ((event.get("requestContext") or {}).get("authorizer") or {}).get("jwt") or {}
    return jwt.get("claims"), list(jwt.get("scopes") or [])


def api_handler(
    app: APIGatewayHttpResolver, *, public: bool = False
) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """The Lambda entry point of an API function: logging with the request's
    correlation id and metrics (traced by Lambda itself, without the X-Ray
    SDK: oversight.observability); then size limit, caller identity, routing."""

    def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        try:
            sent = _body_bytes(event)
            if len(sent if sent is not None else event["body"]) > MAX_BODY_BYTES:
                raise PayloadTooLarge(f"The request body exceeds {MAX_BODY_BYTES} bytes")
            if not public:
                claims, scopes = _authorizer_claims(event)
                app.append_context(principal=principal_from_claims(claims, scopes))
            _read_body_as_json(event, sent)
        except OversightError as error:
            app.clear_context()
            return {
                "statusCode": error.status,
                "headers": {"Content-Type": JSON, **(error.headers or {})},
                "body": _error_body(error),
                "isBase64Encoded": False,
            }
        return app.resolve(event, context)

    return entry_point(
        lambda_handler, correlation_id_path=correlation_paths.API_GATEWAY_HTTP, cold_start_metric=True, traced=False
    )


def _read_body_as_json(event: dict[str, Any], sent: bytes | None) -> None:
    """The API speaks only JSON: read every body as JSON whatever the
    Content-Type says (curl -d sends form encoding by default), so the
    caller gets field errors about its JSON, not about a form. A body API
    Gateway passed base64-encoded is decoded here: bytes that are not UTF-8
    are a validation error, not a crash in the router."""
    if event.get("body") and event.get("isBase64Encoded"):
        try:
            text = sent.decode("utf-8") if sent is not None else None
        except UnicodeDecodeError:
            text = None
        if text is None:
            raise ValidationFailed.field(["body"], "The body is not UTF-8 encoded JSON", "json_invalid")
        event["body"], event["isBase64Encoded"] = text, False
    headers = event.get("headers")
    if event.get("body") and isinstance(headers, dict):
        for name in [n for n in headers if n.lower() == "content-type"]:
            del headers[name]
        headers["content-type"] = JSON
