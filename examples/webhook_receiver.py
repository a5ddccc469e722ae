"""A receiver of Oversight's webhook deliveries, Python's standard library only.

    python examples/webhook_receiver.py --port 8080 --secret "$SECRET"
    OVERSIGHT_WEBHOOK_SECRET="$SECRET" python examples/webhook_receiver.py --port 8080

Each delivery is checked before anything else: its signature (HMAC-SHA256
over `{webhook-id}.{webhook-timestamp}.{body}` with the subscription's
secret, compared in constant time) and its timestamp (at most five minutes
from this machine's clock: an old delivery replayed by someone who recorded
it is refused). A delivery seen before (the same `webhook-id`: a retry, or the
same event through a second subscription while a secret is rotated) is
answered 204 and not processed again. Accepted events are queued and the
answer goes back at once; a worker thread processes them (here: prints
them), so a slow step never makes Oversight time out (5 s) and retry.

`verify()` is the part to reuse: it takes the secret, the headers and the
body exactly as received, and returns the event or raises InvalidDelivery.
docs/integrations.md explains the deliveries, the retries and the events.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import contextlib
import hashlib
import hmac
import json
import os
import queue
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TOLERANCE_SECONDS = 5 * 60
SECRET_VARIABLE = "OVERSIGHT_WEBHOOK_SECRET"  # noqa: S105 - the name of the variable, not a secret
SIGNED_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")
# An event is at most EventBridge's 256 KiB; anything much bigger is not from Oversight.
MAX_BODY_BYTES = 1024 * 1024
# Ids remembered for deduplication; Oversight retries for about an hour, so
# this covers an hour of ~3 events a second. Keep them in a store with a TTL
# when several receivers share the load or a restart must not forget them.
SEEN_IDS = 10_000


class InvalidDelivery(ValueError):
    """A delivery that is not provably from Oversight, or not now; the message says why."""


def verify(secret: str | Iterable[str], headers: Mapping[str, str], body: bytes, now: float | None = None) -> dict:
    """The event a delivery carries, once its signature and timestamp are checked.

    `secret` is the subscription's secret (or the callback_secret), used as
    its UTF-8 bytes; during a rotation, pass both secrets. `headers` may be
    any mapping (names in any case); `body` must be the bytes as received,
    never re-serialised JSON. Raises InvalidDelivery."""
    secrets = [secret] if isinstance(secret, str) else list(secret)
    named = {name.lower(): value for name, value in headers.items()}
    for name in SIGNED_HEADERS:
        if not named.get(name):
            raise InvalidDelivery(f"missing header {name}")
    message_id, timestamp, signatures = (named[name] for name in SIGNED_HEADERS)
    if not timestamp.isascii() or not timestamp.isdigit():
        raise InvalidDelivery(f"webhook-timestamp is not Unix seconds: {timestamp[:40]!r}")
    skew = (time.time() if now is None else now) - int(timestamp)
    if abs(skew) > TOLERANCE_SECONDS:
        when = "old" if skew > 0 else "in the future"
        raise InvalidDelivery(
            f"webhook-timestamp is {abs(skew):.0f} s {when}; more than {TOLERANCE_SECONDS} s is refused"
        )
    offered = _v1_signatures(signatures)
    signed = f"{message_id}.{timestamp}.".encode() + body
    for key in secrets:
        expected = hmac.new(key.encode(), signed, hashlib.sha256).digest()
        # Every offered signature is compared, each in constant time.
        if any(hmac.compare_digest(expected, candidate) for candidate in offered):
            break
    else:
        raise InvalidDelivery("webhook-signature does not match (another secret, or the body was changed)")
    try:
        event = json.loads(body)
    except ValueError as error:
        raise InvalidDelivery(f"the body is not JSON: {error}") from None
    if not isinstance(event, dict):
        raise InvalidDelivery("the body is not a JSON object")
    return event


def _v1_signatures(header: str) -> list[bytes]:
    """The `v1,<base64>` signatures of the header (space-separated, as
    Standard Webhooks allows several); other versions are skipped."""
    found = []
    for entry in header.split():
        version, _, encoded = entry.partition(",")
        if version != "v1" or not encoded:
            continue
        try:
            found.append(base64.b64decode(encoded, validate=True))
        except (binascii.Error, ValueError):
            continue
    if not found:
        raise InvalidDelivery("webhook-signature holds no v1,<base64> signature")
    return found


def describe(event: Mapping[str, Any]) -> str:
    """One line for an event: when, which record, what was done, by whom."""
    kind = "intervention" if "intervention" in event else "job"
    record = event.get(kind) or {}
    truncated = " (truncated: GET the record for its large fields)" if event.get("truncated") else ""
    return (
        f"{event.get('at')} {event.get('tenant')} {kind} {record.get('id')} {event.get('action')} "
        f"by {event.get('actor')} -> {record.get('status')} (version {event.get('version')}){truncated}"
    )


class RecentIds:
    """The last `limit` ids, thread-safe: `add` is True for an id not seen yet."""

    def __init__(self, limit: int = SEEN_IDS) -> None:
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._limit = limit
        self._lock = threading.Lock()

    def add(self, identifier: str) -> bool:
        with self._lock:
            if identifier in self._ids:
                self._ids.move_to_end(identifier)
                return False
            self._ids[identifier] = None
            if len(self._ids) > self._limit:
                self._ids.popitem(last=False)
            return True


class LatestVersions:
    """Applies an event to a record only when it is newer than the last one
    applied: deliveries can arrive out of order (a retry overtaken by the
    next change), `version` orders them."""

    def __init__(self, on_event: Callable[[dict], None]) -> None:
        self._versions: dict[tuple[str, str], int] = {}
        self._on_event = on_event

    def __call__(self, event: dict) -> None:
        kind = "intervention" if "intervention" in event else "job"
        key = (kind, str((event.get(kind) or {}).get("id")))
        version = int(event.get("version") or 0)
        if version <= self._versions.get(key, 0):
            print(f"older than version {self._versions[key]}, not applied: {describe(event)}", flush=True)
            return
        self._versions[key] = version
        self._on_event(event)


class WebhookReceiver(ThreadingHTTPServer):
    """The HTTP server: verifies, deduplicates, queues, answers; one worker
    thread hands each queued event to `on_event`, in arrival order."""

    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        secrets: Iterable[str],
        on_event: Callable[[dict], None],
        fail_first: int = 0,
    ) -> None:
        super().__init__(address, _DeliveryHandler)
        self.secrets = list(secrets)
        if not self.secrets:
            raise ValueError("a receiver needs at least one secret")
        self.seen = RecentIds()
        self.events: queue.Queue[dict | None] = queue.Queue()
        self.fail_first = fail_first
        self._attempts: dict[str, int] = {}
        self._on_event = on_event
        self._worker = threading.Thread(target=self._work, name="webhook-worker", daemon=True)
        self._worker.start()

    def should_fail(self, message_id: str) -> bool:
        """--fail-first N: refuse the first N attempts of each event (to watch the retries)."""
        if not self.fail_first:
            return False
        attempts = self._attempts[message_id] = self._attempts.get(message_id, 0) + 1
        return attempts <= self.fail_first

    def _work(self) -> None:
        while (event := self.events.get()) is not None:
            try:
                self._on_event(event)
            except Exception as error:  # one bad event must not stop the worker
                print(f"processing failed: {error!r}", file=sys.stderr, flush=True)
            finally:
                self.events.task_done()
        self.events.task_done()

    def server_close(self) -> None:
        """Stops the worker once the queued events are processed."""
        super().server_close()
        self.events.put(None)
        self._worker.join(timeout=5)


class _DeliveryHandler(BaseHTTPRequestHandler):
    server: WebhookReceiver
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        length = self.headers.get("Content-Length", "")
        if not length.isdigit():
            return self._answer(411, "a Content-Length is required")
        if int(length) > MAX_BODY_BYTES:
            self.close_connection = True
            return self._answer(413, "the body is too large")
        body = self.rfile.read(int(length))
        try:
            event = verify(self.server.secrets, self.headers, body)
        except InvalidDelivery as error:
            print(f"refused: {error}", file=sys.stderr, flush=True)
            return self._answer(401, str(error))
        message_id = self.headers["webhook-id"]
        if self.server.should_fail(message_id):
            print(f"answered 503 to {message_id} on purpose (--fail-first)", flush=True)
            return self._answer(503, "refused on purpose (--fail-first)")
        if self.server.seen.add(message_id):
            self.server.events.put(event)
        else:
            print(f"duplicate {message_id}, already processed", flush=True)
        self._answer(204)

    def _answer(self, status: int, message: str = "") -> None:
        """204 with no body, or the status with `{"error": message}`."""
        self.send_response(status)
        if status == 204:
            self.end_headers()
            return
        payload = json.dumps({"error": message}).encode()
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: each event, refusal and duplicate is printed on its own."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Receive, verify and print Oversight's webhook deliveries.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument(
        "--secret",
        action="append",
        help=f"the subscription's secret; repeat it while rotating (default: ${SECRET_VARIABLE})",
    )
    parser.add_argument("--fail-first", type=int, default=0, metavar="N", help="answer 503 to each event's first N")
    options = parser.parse_args(argv)
    secrets = options.secret or [value for value in [os.environ.get(SECRET_VARIABLE, "")] if value]
    if not secrets:
        parser.error(f"give --secret or set {SECRET_VARIABLE}")
    printer = LatestVersions(lambda event: print(describe(event), flush=True))
    with WebhookReceiver((options.host, options.port), secrets, printer, options.fail_first) as server:
        print(f"receiving on http://{options.host}:{server.server_port}/", flush=True)
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C: stop quietly
            server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
