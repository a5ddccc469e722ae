"""`require_approval`: a decorator that asks people before a function runs.

    @require_approval(client, title="Refund a customer", priority="high", timeout=3600)
    def refund(order_id: str, amount: float) -> None: ...

Every call first raises an intervention whose `context` names the function
and its arguments, waits for the decision, and runs the function once
approved; a rejection, an expiry or a cancellation raises `Rejected`,
`Expired` or `Cancelled` and the function does not run. Coroutine functions
are awaited the same way, without blocking the event loop.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import json
import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

if TYPE_CHECKING:
    from oversight_client.client import Client
    from oversight_client.models import InterventionType

F = TypeVar("F", bound=Callable[..., Any])

#: The API's limit on `context`, in bytes of compact UTF-8 JSON (as the API measures it).
MAX_CONTEXT_BYTES = 16 * 1024
MAX_TITLE_CHARS = 200
MAX_UOW_ID_CHARS = 256
_ELLIPSIS = "…"
_MAX_DEPTH = 20

TextOrFactory = str | Callable[..., str] | None


def require_approval(
    client: Client,
    *,
    title: TextOrFactory = None,
    uow_id: TextOrFactory = None,
    type: InterventionType | str = "approval",  # noqa: A002 - the API's field name
    timeout: float | None = None,
    complete: bool = False,
    **fields: Any,
) -> Callable[[F], F]:
    """Run the decorated function only once a person approves each call.

    `title` and `uow_id` are text, or functions given the call's arguments
    that return it (defaults: "Approve <function>" and the function's dotted
    name). `timeout` bounds the wait (`WaitTimeout`). `complete=True` marks
    the intervention COMPLETED once the function has returned. Other keyword
    arguments are fields of the intervention (`priority`, `required_role`,
    `expires_in_seconds`, `context`...): a `context` given here is kept and
    the call's description added to it.
    """

    def decorate(function: F) -> F:
        signature = inspect.signature(function)
        name = function.__qualname__

        def request(args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
            base = fields.get("context") or {}
            context = call_context(name, signature, args, kwargs, base, module=function.__module__)
            return {
                **fields,
                "title": _text(title, args, kwargs, f"Approve {name}", MAX_TITLE_CHARS),
                "uow_id": _text(uow_id, args, kwargs, f"{function.__module__}.{name}", MAX_UOW_ID_CHARS),
                "type": type,
                "timeout": timeout,
                "context": context,
            }

        if inspect.iscoroutinefunction(function):

            @functools.wraps(function)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                approved = await client.request_decision_async(**request(args, kwargs))
                result = await function(*args, **kwargs)
                if complete:
                    await asyncio.to_thread(client.complete, approved.id, _ran(name))
                return result

            return cast(F, run_async)

        @functools.wraps(function)
        def run(*args: Any, **kwargs: Any) -> Any:
            approved = client.request_decision(**request(args, kwargs))
            result = function(*args, **kwargs)
            if complete:
                client.complete(approved.id, reason=_ran(name))
            return result

        return cast(F, run)

    return decorate


def _ran(name: str) -> str:
    return f"{name} ran after the approval"


def call_context(
    name: str,
    signature: inspect.Signature,
    args: tuple[Any, ...],
    kwargs: Mapping[str, Any],
    base: Mapping[str, Any] | None = None,
    *,
    module: str | None = None,
    limit: int = MAX_CONTEXT_BYTES,
) -> dict[str, Any]:
    """`{"function": name, "arguments": {...}}` (over `base`), cut to fit `limit` bytes as JSON.

    Arguments that are not JSON become their `repr`. When the whole does not
    fit, the longest arguments are shortened (each to the same length, the
    largest that fits, ending in "…") and `"truncated": true` is added; if
    even that cannot fit, the arguments are left out and only their names kept.
    """
    try:
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        arguments = {key: jsonable(value) for key, value in bound.arguments.items()}
    except TypeError:  # the call itself is wrong: describe what was passed; the function will raise
        arguments = {"args": jsonable(list(args)), "kwargs": jsonable(dict(kwargs))}
    context: dict[str, Any] = {**(base or {}), "function": name}
    if module:
        context["module"] = module
    context["arguments"] = arguments
    if json_size(context) <= limit:
        return context
    context["truncated"] = True
    texts = {key: json.dumps(value, separators=(",", ":"), ensure_ascii=False) for key, value in arguments.items()}

    def cut(length: int) -> dict[str, Any]:
        return {
            key: arguments[key] if len(texts[key]) <= length else texts[key][:length] + _ELLIPSIS for key in arguments
        }

    low, high = 0, max((len(text) for text in texts.values()), default=0)
    if json_size({**context, "arguments": cut(low)}) > limit:
        context["arguments"] = {}
        context["omitted_arguments"] = list(arguments)[:50]
        return context
    while low < high:  # the largest length that fits
        middle = (low + high + 1) // 2
        if json_size({**context, "arguments": cut(middle)}) <= limit:
            low = middle
        else:
            high = middle - 1
    context["arguments"] = cut(low)
    return context


def jsonable(value: Any, depth: int = 0) -> Any:
    """`value` as JSON if it is JSON (strings, numbers, lists, string-keyed objects), else its `repr`."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if depth >= _MAX_DEPTH:
        return _repr(value)
    if isinstance(value, (list, tuple)):
        return [jsonable(item, depth + 1) for item in value]
    if isinstance(value, Mapping):
        return {str(key): jsonable(item, depth + 1) for key, item in value.items()}
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict) and not isinstance(value, type):
        try:
            return jsonable(to_dict(), depth + 1)
        except Exception:  # noqa: BLE001 - a description must never break the call
            return _repr(value)
    return _repr(value)


def _repr(value: Any) -> str:
    try:
        return repr(value)
    except Exception:  # noqa: BLE001 - a broken __repr__ must not break the call
        return f"<{type(value).__qualname__}>"


def json_size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode())


def _text(given: TextOrFactory, args: tuple[Any, ...], kwargs: Mapping[str, Any], default: str, limit: int) -> str:
    text = given(*args, **kwargs) if callable(given) else given or default
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1] + _ELLIPSIS
