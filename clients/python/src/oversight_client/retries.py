"""The timing rules, in one place: how long to wait before retrying a request,
and how often to poll while waiting for a decision.

Both only ever wait at least one second between two requests of one caller,
and add jitter upwards (never below the floor), so that many clients started
together spread out instead of polling in step.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

#: The least time between two requests of one retrying or waiting caller.
MIN_INTERVAL_SECONDS = 1.0


def parse_retry_after(value: str | None, now: Callable[[], datetime] | None = None) -> float | None:
    """`Retry-After` in seconds: delta-seconds or an HTTP date (RFC 9110); None when absent or unreadable."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            moment = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        seconds = (moment - (now or _utcnow)()).total_seconds()
    if not math.isfinite(seconds):
        return None
    return max(seconds, 0.0)


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class RetryPolicy:
    """Which pauses a request gets before its retries (503, or a connection that failed).

    Without `Retry-After`: 1, 2, 4, 8 s... (times 1 to 1.5 for jitter) up to
    `max_delay`. With it: what the server asked (at least 1 s, 10 % jitter),
    capped at `max_retry_after` so a wrong header cannot stall a caller.
    """

    max_retries: int = 4
    base_delay: float = MIN_INTERVAL_SECONDS
    max_delay: float = 10.0
    max_retry_after: float = 30.0

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ValueError(f"max_retries must be 0 or more, not {self.max_retries}")
        if self.base_delay < MIN_INTERVAL_SECONDS:
            raise ValueError(f"base_delay must be at least {MIN_INTERVAL_SECONDS} s, not {self.base_delay}")

    def delay(self, retry: int, retry_after: float | None, random: Callable[[], float]) -> float:
        """The pause before retry number `retry` (0 for the first retry); `random()` is in [0, 1)."""
        if retry_after is not None:
            wanted = max(retry_after, self.base_delay) * (1 + 0.1 * random())
            return min(wanted, max(self.max_retry_after, self.base_delay))
        backoff = min(self.base_delay * 2.0**retry, self.max_delay)
        return max(min(backoff * (1 + 0.5 * random()), self.max_delay), self.base_delay)


class PollDelays:
    """The pauses of one waiter between its polls: 1 s, then x1.5 each time up to 10 s, with jitter.

    The jitter moves each pause by up to 15 % either way, but never below
    `MIN_INTERVAL_SECONDS` nor above `maximum`.
    """

    FIRST = MIN_INTERVAL_SECONDS
    FACTOR = 1.5
    MAXIMUM = 10.0
    JITTER = 0.15

    def __init__(self, random: Callable[[], float]) -> None:
        self._random = random
        self._next = self.FIRST

    def next(self) -> float:
        base = self._next
        self._next = min(base * self.FACTOR, self.MAXIMUM)
        jittered = base * (1 - self.JITTER + 2 * self.JITTER * self._random())
        return min(max(jittered, MIN_INTERVAL_SECONDS), self.MAXIMUM)
