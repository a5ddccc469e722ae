"""`oversight`: the Oversight API from a shell.

Tables for people (fitted to the terminal's width, no colour unless stdout is
a terminal and NO_COLOR is unset), `--json` for scripts (the API's JSON).
Exit codes: 0 success; `request --wait` and `jobs run --wait` answer 1 when
rejected (or the job failed), 2 when expired or cancelled, 3 on timeout; any
error is 4, with one line on stderr saying what to do.
"""

from __future__ import annotations

import argparse
import dataclasses
import enum
import json
import os
import re
import shutil
import sys
import textwrap
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from itertools import islice
from typing import Any, NoReturn, TextIO

from oversight_client import (
    Cancelled,
    Client,
    Expired,
    Forbidden,
    NotFound,
    OversightError,
    Rejected,
    TransportError,
    Unauthorized,
    ValidationFailed,
    WaitTimeout,
)

EXIT_OK = 0
EXIT_REJECTED = 1
EXIT_CLOSED = 2  # expired or cancelled
EXIT_TIMEOUT = 3
EXIT_ERROR = 4
EXIT_INTERRUPTED = 130  # Ctrl-C, as shells report it

URL_ENV = "OVERSIGHT_URL"
TOKEN_ENV = "OVERSIGHT_TOKEN"  # noqa: S105 - the variable's name, not a secret

PRIORITIES = ("critical", "high", "normal", "low")
TYPES = ("approval", "clarification", "kill_switch", "waive_violation", "resume", "cancel")
PRIORITY_LABELS = {"critical": "CRIT", "high": "high", "normal": "normal", "low": "low"}
OPEN_STATUSES = ("PENDING", "IN_PROGRESS")
# `request --wait`: the closed status → the exit code.
DECISION_EXITS = {
    "APPROVED": EXIT_OK,
    "COMPLETED": EXIT_OK,
    "REJECTED": EXIT_REJECTED,
    "EXPIRED": EXIT_CLOSED,
    "CANCELLED": EXIT_CLOSED,
}
# `jobs run --wait`: the finished status → the exit code, in the same spirit.
JOB_EXITS = {"COMPLETED": EXIT_OK, "FAILED": EXIT_REJECTED, "REJECTED": EXIT_REJECTED, "CANCELLED": EXIT_CLOSED}

QUEUE_LIMIT = 50
PAGE_SIZE_MAX = 100
# A short ID is resolved against this many open requests at most (5 pages).
PREFIX_SCAN_LIMIT = 500
SHORT_ID = 8
TITLE_MIN_WIDTH = 20
GAP = "  "
ELLIPSIS = "…"
SIGN_IN_HINT = (
    "get a token: locally `export OVERSIGHT_TOKEN=$(make -s token SUB=you ROLES=operator)`; "
    "deployed, your identity provider's ID token"
)

_FULL_ID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_ID_PREFIX = re.compile(r"[0-9a-fA-F][0-9a-fA-F-]{3,34}")
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhd]?)")
_DURATION_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
# Record text is shown as text, never as terminal commands: control characters and bidirectional overrides go.
_UNSAFE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


class CommandError(Exception):
    """A mistake on the command line or in its environment: one line, exit 4."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # argparse would exit 2, which `request --wait` means "expired or cancelled".
        raise CommandError(f"{self.prog}: {message} (see `{self.prog} --help`)")


# ---------------------------------------------------------------- text and time


def clean(text: object, *, lines: bool = False) -> str:
    """`text` safe to print: control characters removed; newlines kept only when `lines`."""
    value = "" if text is None else str(text)
    if not lines:
        value = value.replace("\r\n", " ").replace("\n", " ").replace("\t", " ")
    else:
        value = value.replace("\r\n", "\n").replace("\t", "    ")
    return _UNSAFE.sub("", value)


def _char_width(char: str) -> int:
    if unicodedata.combining(char) or unicodedata.category(char) in ("Mn", "Me", "Cf"):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def display_width(text: str) -> int:
    """Columns `text` takes in a terminal (wide East Asian characters take two)."""
    return sum(_char_width(char) for char in text)


def truncate(text: str, width: int, *, ellipsis: bool = True) -> str:
    """`text` cut to at most `width` columns, ending in an ellipsis when cut."""
    if display_width(text) <= width:
        return text
    if width <= 0:
        return ""
    room = width - 1 if ellipsis else width
    kept: list[str] = []
    used = 0
    for char in text:
        size = _char_width(char)
        if used + size > room:
            break
        kept.append(char)
        used += size
    return "".join(kept) + (ELLIPSIS if ellipsis else "")


def _pad(text: str, width: int, *, right: bool = False) -> str:
    padding = " " * max(0, width - display_width(text))
    return padding + text if right else text + padding


def parse_time(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def age(seconds: float) -> str:
    """A span in its largest whole unit: 42s, 3m, 2h, 1d."""
    whole = max(0, int(seconds))
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m"
    if whole < 86400:
        return f"{whole // 3600}h"
    return f"{whole // 86400}d"


def duration(seconds: float | None) -> str:
    """A measured duration, a little more precise than `age`: 0.4s, 12s, 4m10s, 2h5m, 3d4h."""
    if seconds is None:
        return "—"
    if seconds < 10:
        return f"{seconds:.1f}s"
    whole = int(seconds)
    for unit, size, sub_unit, sub_size in (("d", 86400, "h", 3600), ("h", 3600, "m", 60), ("m", 60, "s", 1)):
        if whole >= size:
            rest = (whole % size) // sub_size
            return f"{whole // size}{unit}{rest}{sub_unit}" if rest else f"{whole // size}{unit}"
    return f"{whole}s"


def ago(value: object, now: datetime) -> str:
    moment = parse_time(value)
    return "—" if moment is None else age((now - moment).total_seconds())


def time_left(value: object, now: datetime) -> str:
    moment = parse_time(value)
    if moment is None:
        return "—"
    seconds = (moment - now).total_seconds()
    return age(seconds) if seconds > 0 else "expired"


def stamp(value: object, now: datetime, *, future: bool = False) -> str:
    """An absolute UTC time with its distance from now: `2026-01-31 09:30:00Z (3m ago)`; `future` for a
    deadline (`(in 57m)`, or `(passed 2m ago)`)."""
    moment = parse_time(value)
    if moment is None:
        return "—"
    text = moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    seconds = (moment - now).total_seconds()
    if future and seconds > 0:
        return f"{text} (in {age(seconds)})"
    # A past moment a second "ahead" is the server's clock against this one's: just now.
    return f"{text} ({'passed ' if future else ''}{age(max(0.0, -seconds))} ago)"


def parse_duration(text: str) -> float:
    """Seconds from `90`, `90s`, `5m`, `2h` or `1d`."""
    found = _DURATION.fullmatch(text.strip().lower())
    if not found or float(found.group(1)) <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration: seconds, or a number with s, m, h or d (5m)")
    return float(found.group(1)) * _DURATION_UNITS[found.group(2)]


def _whole_seconds(text: str) -> int:
    return round(parse_duration(text))


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return value


def parse_json_argument(option: str, text: str, *, require_object: bool = False) -> Any:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise CommandError(
            f"{option} is not JSON ({error.msg} at character {error.pos + 1}): quote it for the shell, "
            f'e.g. {option} \'{{"key": "value"}}\''
        ) from None
    if require_object and not isinstance(value, dict):
        raise CommandError(f'{option} must be a JSON object, e.g. {option} \'{{"key": "value"}}\'')
    return value


def parse_parameters(pairs: Sequence[str]) -> dict[str, Any]:
    """`key=value` pairs: each value as JSON when it parses (`n=3`, `flag=true`, `tags=["a"]`), else the string."""
    parameters: dict[str, Any] = {}
    for pair in pairs:
        key, separator, text = pair.partition("=")
        if not separator or not key:
            raise CommandError(f"{pair!r} is not key=value: name each tool parameter, e.g. format=csv")
        if key in parameters:
            raise CommandError(f"the parameter {key!r} is given twice")
        try:
            parameters[key] = json.loads(text)
        except json.JSONDecodeError:
            parameters[key] = text
    return parameters


def to_json(value: Any) -> Any:
    """A record of the client (a model, an enum, a datetime) as the API's JSON."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, enum.Enum):
        return to_json(value.value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, Mapping):
        return {str(key): to_json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(item) for item in value]
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict):
        return to_json(to_dict())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {field.name: to_json(getattr(value, field.name)) for field in dataclasses.fields(value)}
        extra = fields.pop("extra", None)
        return {**fields, **extra} if isinstance(extra, dict) else fields
    return str(value)


# ---------------------------------------------------------------- output


class Style:
    """ANSI colour, only for a terminal and only without NO_COLOR (https://no-color.org)."""

    CODES = {"bold": "1", "dim": "2", "red": "31", "green": "32", "yellow": "33", "cyan": "36"}

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    @classmethod
    def for_stream(cls, stream: TextIO, environ: Mapping[str, str]) -> Style:
        isatty = getattr(stream, "isatty", None)
        tty = bool(isatty()) if callable(isatty) else False
        return cls(tty and not environ.get("NO_COLOR") and environ.get("TERM") != "dumb")

    def __call__(self, text: str, *names: str) -> str:
        codes = [self.CODES[name] for name in names if name]
        if not self.enabled or not codes or not text:
            return text
        return f"\x1b[{';'.join(codes)}m{text}\x1b[0m"


PRIORITY_STYLES = {"critical": ("bold", "red"), "high": ("yellow",), "normal": (), "low": ("dim",)}
STATUS_STYLES = {
    "APPROVED": ("green",),
    "COMPLETED": ("green",),
    "REJECTED": ("red",),
    "FAILED": ("red",),
    "EXPIRED": ("yellow",),
    "CANCELLED": ("dim",),
    "IN_PROGRESS": ("cyan",),
    "RUNNING": ("cyan",),
}


@dataclasses.dataclass
class Column:
    """One column of a table. When the rows do not fit the width, `shrink_to` columns are cut first (without
    an ellipsis: a prefix still identifies), then columns with a `drop_rank` go, lowest first, until the
    `flexible` column (the last) has `TITLE_MIN_WIDTH`; it takes what is left, cut with an ellipsis."""

    header: str
    cells: list[str]
    styles: list[tuple[str, ...]] = dataclasses.field(default_factory=list)
    drop_rank: int | None = None
    flexible: bool = False
    max_width: int | None = None
    shrink_to: int | None = None
    right: bool = False

    def natural_width(self) -> int:
        widest = max([display_width(self.header), *(display_width(cell) for cell in self.cells)])
        return min(widest, self.max_width) if self.max_width else widest


def render_table(columns: Sequence[Column], width: int, style: Style) -> list[str]:
    """The header and one line per row, none wider than `width` columns."""
    shown = list(columns)
    widths = {id(column): column.natural_width() for column in shown}

    def total(flexible_width: int | None = None) -> int:
        sizes = [
            (min(widths[id(c)], flexible_width) if c.flexible and flexible_width is not None else widths[id(c)])
            for c in shown
        ]
        return sum(sizes) + len(GAP) * (len(shown) - 1)

    if total() > width:
        for column in shown:
            if column.shrink_to:
                widths[id(column)] = min(widths[id(column)], max(column.shrink_to, display_width(column.header)))
        droppable = sorted((c for c in shown if c.drop_rank is not None), key=lambda c: c.drop_rank or 0)
        while total(TITLE_MIN_WIDTH) > width and droppable:
            shown.remove(droppable.pop(0))
        for column in shown:
            if column.flexible:
                fixed = total() - widths[id(column)]
                widths[id(column)] = max(1, min(widths[id(column)], width - fixed))
    fits = total() <= width
    lines: list[str] = []
    for row in range(-1, len(shown[0].cells) if shown else 0):
        parts = []
        for index, column in enumerate(shown):
            text = column.header if row < 0 else column.cells[row]
            size = widths[id(column)]
            cut = truncate(text, size, ellipsis=not (column.shrink_to and row >= 0))
            last = index == len(shown) - 1
            padded = cut if last and not column.right else _pad(cut, size, right=column.right)
            names: tuple[str, ...] = ("bold",) if row < 0 else (column.styles[row] if column.styles else ())
            parts.append(style(padded, *names) if fits else padded)
        line = GAP.join(parts).rstrip()
        lines.append(line if fits else truncate(line, width))
    return lines


class Output:
    def __init__(self, out: TextIO, err: TextIO, style: Style, width: int, now: datetime) -> None:
        self.out = out
        self.err = err
        self.style = style
        self.width = width
        self.now = now

    def line(self, text: str = "") -> None:
        print(text, file=self.out)

    def note(self, text: str) -> None:
        """Progress for people, on stderr: stdout stays the result."""
        print(text, file=self.err, flush=True)

    def json(self, value: Any) -> None:
        print(json.dumps(to_json(value), indent=2, ensure_ascii=False), file=self.out)


# ---------------------------------------------------------------- rendering


def _short(identifier: object) -> str:
    return clean(identifier)[:SHORT_ID]


def _priority_label(priority: object) -> str:
    return PRIORITY_LABELS.get(str(priority), clean(priority))


def _approvals(item: Mapping[str, Any]) -> str:
    needed = int(item.get("required_approvals") or 1)
    given = len(item.get("approvals") or [])
    return f"{given}/{needed}" if needed > 1 else ""


def queue_table(items: Sequence[Mapping[str, Any]], output: Output) -> list[str]:
    now = output.now
    columns = [
        Column("ID", [clean(i.get("id")) for i in items], shrink_to=SHORT_ID),
        Column(
            "PRI",
            [_priority_label(i.get("priority")) for i in items],
            styles=[PRIORITY_STYLES.get(str(i.get("priority")), ()) for i in items],
        ),
        Column("TYPE", [clean(i.get("type")) for i in items], drop_rank=3),
        Column("AGE", [ago(i.get("created_at"), now) for i in items], right=True),
        Column(
            "LEFT",
            [time_left(i.get("expires_at"), now) for i in items],
            styles=[_left_style(i.get("expires_at"), now) for i in items],
            right=True,
        ),
        Column("ROLE", [clean(i.get("required_role")) for i in items], drop_rank=1, max_width=14),
        Column("ASSIGNEE", [clean(i.get("assigned_to") or "—") for i in items], drop_rank=4, max_width=12),
    ]
    if any(_approvals(i) for i in items):
        columns.append(Column("APPR", [_approvals(i) for i in items], drop_rank=2, right=True))
    columns.append(Column("TITLE", [clean(i.get("title")) for i in items], flexible=True))
    return render_table(columns, output.width, output.style)


def _left_style(value: object, now: datetime) -> tuple[str, ...]:
    moment = parse_time(value)
    if moment is not None and (moment - now).total_seconds() < 300:
        return ("red",)
    return ()


def _status(value: object, style: Style) -> str:
    text = clean(value)
    return style(text, *STATUS_STYLES.get(text, ()))


def _pretty_json(value: Any, indent: str) -> list[str]:
    text = json.dumps(to_json(value), indent=2, ensure_ascii=False)
    return [indent + clean(line) for line in text.splitlines()]


def _wrapped(text: str, width: int, indent: str) -> list[str]:
    lines: list[str] = []
    for paragraph in clean(text, lines=True).split("\n"):
        wrapped = textwrap.wrap(paragraph, width=max(20, width - len(indent)), break_on_hyphens=False)
        lines.extend(indent + line for line in wrapped or [""])
    return lines


def intervention_lines(item: Mapping[str, Any], events: Sequence[Mapping[str, Any]], output: Output) -> list[str]:
    """`oversight show`: the fields that matter, then the audit trail."""
    style, now = output.style, output.now
    status = str(item.get("status"))
    lines = [style(clean(item.get("title")), "bold"), ""]
    fields: list[tuple[str, str]] = [
        ("id", clean(item.get("id"))),
        ("status", _status(status, style) + _quorum(item)),
        ("priority", style(clean(item.get("priority")), *PRIORITY_STYLES.get(str(item.get("priority")), ()))),
        ("type", clean(item.get("type"))),
        ("unit of work", clean(item.get("uow_id"))),
        ("required role", clean(item.get("required_role"))),
        ("assigned to", clean(item.get("assigned_to") or "—")),
        ("created", stamp(item.get("created_at"), now) + _by(item.get("created_by"))),
        ("expires", stamp(item.get("expires_at"), now, future=True) + _on_expiry(item)),
    ]
    if item.get("decided_at") or item.get("decided_by"):
        fields.append(("decided", stamp(item.get("decided_at"), now) + _by(item.get("decided_by"))))
    if item.get("decision_reason"):
        fields.append(("reason", clean(item.get("decision_reason"))))
    if item.get("resolution_seconds") is not None:
        fields.append(("resolution", duration(float(item["resolution_seconds"]))))
    if item.get("job_id"):
        fields.append(("job", f"{clean(item.get('job_id'))} (oversight jobs show {_short(item.get('job_id'))}…)"))
    escalation = item.get("escalation")
    if isinstance(escalation, Mapping):
        fields.append(("escalation", _escalation(escalation, item, now)))
    if item.get("callback_url"):
        fields.append(("callback", clean(item.get("callback_url"))))
    fields.append(("updated", f"{stamp(item.get('updated_at'), now)}, version {clean(item.get('version'))}"))
    label_width = max(len(label) for label, _ in fields)
    lines.extend(f"  {label.ljust(label_width)}  {value}" for label, value in fields)
    if item.get("description"):
        lines += ["", "Description:", *_wrapped(str(item["description"]), output.width, "  ")]
    if item.get("context"):
        lines += ["", "Context:", *_pretty_json(item["context"], "  ")]
    if item.get("response") is not None:
        lines += ["", "Response:", *_pretty_json(item["response"], "  ")]
    if item.get("response_schema"):
        lines += ["", "Response schema (approve with --response JSON that fits it):"]
        lines += _pretty_json(item["response_schema"], "  ")
    approvals = item.get("approvals") or []
    if approvals:
        lines += ["", "Approvals:"]
        for approval in approvals:
            lines.append(f"  {ago(approval.get('at'), now)} ago  {clean(approval.get('user'))}")
            lines += _wrapped(str(approval.get("reason") or ""), output.width, "      ")
    lines += ["", "Audit trail:", *audit_lines(events, output)]
    return lines


def _by(who: object) -> str:
    return f" by {clean(who)}" if who else ""


def _quorum(item: Mapping[str, Any]) -> str:
    needed = int(item.get("required_approvals") or 1)
    if needed <= 1:
        return ""
    given = len(item.get("approvals") or [])
    remaining = item.get("approvals_needed")
    more = f", {remaining} more needed" if remaining and str(item.get("status")) in OPEN_STATUSES else ""
    return f" ({given} of {needed} approvals{more})"


def _on_expiry(item: Mapping[str, Any]) -> str:
    rule = item.get("on_expiry")
    if rule in ("approve", "reject"):
        return f", then {'approved' if rule == 'approve' else 'rejected'} by the system"
    return ""


def _escalation(escalation: Mapping[str, Any], item: Mapping[str, Any], now: datetime) -> str:
    parts = []
    if escalation.get("to_role"):
        parts.append(f"to {clean(escalation['to_role'])}")
    if escalation.get("priority"):
        parts.append(f"priority {clean(escalation['priority'])}")
    text = f"after {duration(float(escalation.get('after_seconds') or 0))} unclaimed: " + ", ".join(parts)
    return text + (f"; escalated {ago(item['escalated_at'], now)} ago" if item.get("escalated_at") else "")


def audit_lines(events: Sequence[Mapping[str, Any]], output: Output) -> list[str]:
    if not events:
        return ["  (no events)"]
    changes = []
    for event in events:
        before, after = event.get("from_status"), event.get("to_status")
        changes.append(clean(after) if not before or before == after else f"{clean(before)} → {clean(after)}")
    columns = [
        Column("WHEN", [f"{ago(event.get('at'), output.now)} ago" for event in events], right=True),
        Column("ACTOR", [clean(event.get("actor")) for event in events], max_width=24),
        Column("ACTION", [clean(event.get("action")) for event in events]),
        Column("STATUS", changes, flexible=True),
    ]
    table = render_table(columns, output.width - 2, output.style)
    lines = ["  " + table[0]]
    for event, row in zip(events, table[1:], strict=True):
        lines.append("  " + row)
        if event.get("reason"):
            lines += _wrapped(str(event["reason"]), output.width, "      ")
    return lines


def job_lines(job: Mapping[str, Any], output: Output) -> list[str]:
    style, now = output.style, output.now
    fields = [
        ("id", clean(job.get("id"))),
        ("tool", clean(job.get("tool"))),
        ("status", _status(job.get("status"), style) + (" (cached)" if job.get("cached") else "")),
        ("submitted", stamp(job.get("created_at"), now) + _by(job.get("submitted_by"))),
    ]
    if job.get("started_at"):
        fields.append(("started", stamp(job.get("started_at"), now)))
    if job.get("finished_at"):
        fields.append(("finished", stamp(job.get("finished_at"), now)))
    if job.get("duration_seconds") is not None:
        fields.append(("duration", duration(float(job["duration_seconds"]))))
    if job.get("attempts"):
        fields.append(("attempts", clean(job.get("attempts"))))
    if job.get("intervention_id"):
        fields.append(("approval", f"{clean(job['intervention_id'])} (oversight show …)"))
    if job.get("cancel_requested") and job.get("status") == "RUNNING":
        fields.append(("cancel", "requested"))
    width = max(len(label) for label, _ in fields)
    lines = [f"  {label.ljust(width)}  {value}" for label, value in fields]
    if job.get("parameters"):
        lines += ["", "Parameters:", *_pretty_json(job["parameters"], "  ")]
    result = job.get("result")
    if isinstance(result, Mapping):
        if result.get("error"):
            lines += ["", "Error:", *_wrapped(str(result["error"]), output.width, "  ")]
        if result.get("return_value") is not None:
            lines += ["", "Return value:", *_pretty_json(result["return_value"], "  ")]
        for name in ("stdout", "stderr"):
            if result.get(name):
                lines += ["", f"{name}:", *("  " + line for line in clean(result[name], lines=True).splitlines())]
        if result.get("truncated"):
            lines += ["", "(output truncated by the API)"]
        outputs = result.get("outputs") or []
        if outputs:
            lines += ["", "Output files:"]
            for file in outputs:
                lines.append(f"  {clean(file.get('name'))} ({clean(file.get('size_bytes'))} bytes)")
                lines.append(f"    {clean(file.get('url'))}")
    return lines


def log_lines(items: Sequence[Mapping[str, Any]]) -> list[str]:
    lines: list[str] = []
    for item in items:
        moment = parse_time(item.get("at"))
        when = moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if moment else clean(item.get("at"))
        level = clean(item.get("level")).upper().ljust(7)
        lines.append(f"{when}  {level}  {clean(item.get('message'), lines=True)}")
    return lines


def _counts(counts: object) -> str:
    if not isinstance(counts, Mapping) or not counts:
        return "—"
    return ", ".join(f"{clean(key)} {clean(value)}" for key, value in counts.items())


def _percent(value: object) -> str:
    return f"{value * 100:.0f}%" if isinstance(value, (int, float)) else "—"


def stats_lines(stats: Mapping[str, Any], output: Output) -> list[str]:
    interventions = stats.get("interventions") or {}
    jobs = stats.get("jobs") or {}
    responders = ", ".join(
        f"{clean(entry.get('user'))} {clean(entry.get('count'))}" for entry in interventions.get("top_responders") or []
    )
    tools = ", ".join(
        f"{clean(entry.get('tool'))} {clean(entry.get('count'))}" for entry in jobs.get("top_tools") or []
    )
    resolution = (
        f"average {duration(interventions.get('avg_resolution_seconds'))}, "
        f"median {duration(interventions.get('resolution_seconds_p50'))}, "
        f"p95 {duration(interventions.get('resolution_seconds_p95'))}"
    )
    sections = [
        (
            f"Requests: {clean(interventions.get('total', 0))} in all, {clean(interventions.get('open', 0))} open",
            [
                ("by status", _counts(interventions.get("by_status"))),
                ("by priority", _counts(interventions.get("by_priority"))),
                ("by type", _counts(interventions.get("by_type"))),
                ("resolution", resolution),
                ("top deciders", responders or "—"),
            ],
        ),
        (
            f"Jobs: {clean(jobs.get('total', 0))} in all, {_percent(jobs.get('success_rate'))} succeeded",
            [
                ("by status", _counts(jobs.get("by_status"))),
                ("duration", f"average {duration(jobs.get('avg_duration_seconds'))}"),
                ("top tools", tools or "—"),
            ],
        ),
    ]
    lines: list[str] = []
    for title, fields in sections:
        width = max(len(label) for label, _ in fields)
        indent = " " * (width + 4)
        lines.append(output.style(title, "bold"))
        for label, value in fields:
            wrapped = textwrap.wrap(value, width=max(20, output.width - len(indent))) or [""]
            lines.append(f"  {label.ljust(width)}  {wrapped[0]}")
            lines.extend(indent + rest for rest in wrapped[1:])
        lines.append("")
    lines.append(f"as of {stamp(stats.get('generated_at'), output.now)}")
    return lines


def tool_lines(tools: Sequence[Mapping[str, Any]], output: Output) -> list[str]:
    columns = [
        Column("TOOL", [clean(tool.get("name")) for tool in tools]),
        Column("TIMEOUT", [duration(float(tool.get("timeout_seconds") or 0)) for tool in tools], right=True),
        Column("CACHED", ["yes" if tool.get("cacheable") else "no" for tool in tools], drop_rank=1),
        Column("WHO", [clean(tool.get("required_role") or "requester") for tool in tools], drop_rank=2),
        Column("DESCRIPTION", [clean(tool.get("description")) for tool in tools], flexible=True),
    ]
    return render_table(columns, output.width, output.style)


def summary(verb: str, item: Mapping[str, Any], style: Style) -> str:
    """One line after a change: `Claimed 3f2a9c1b: IN_PROGRESS, assigned to pilot-ana.`"""
    status = str(item.get("status"))
    text = f"{verb} {_short(item.get('id'))}: {_status(status, style)}"
    if status == "IN_PROGRESS" and item.get("assigned_to"):
        text += f", assigned to {clean(item.get('assigned_to'))}"
    remaining = item.get("approvals_needed")
    if status in OPEN_STATUSES and int(item.get("required_approvals") or 1) > 1 and remaining:
        text += f", {remaining} more approval{'s' if remaining != 1 else ''} needed"
    if status not in OPEN_STATUSES and item.get("decided_by"):
        text += f" by {clean(item.get('decided_by'))}"
    return text + "."


# ---------------------------------------------------------------- commands


ClientFactory = Callable[[str, str], Client]


class Context:
    """What a command needs: the client (made on first use, so that `--help` needs no URL), the output."""

    def __init__(self, args: argparse.Namespace, factory: ClientFactory, output: Output, environ: Mapping[str, str]):
        self.args = args
        self.output = output
        self._factory = factory
        self._environ = environ
        self._client: Client | None = None

    @property
    def json(self) -> bool:
        return bool(getattr(self.args, "json", False))

    @property
    def url(self) -> str:
        return str(getattr(self.args, "url", None) or self._environ.get(URL_ENV) or "")

    @property
    def client(self) -> Client:
        if self._client is None:
            url = self.url
            token = getattr(self.args, "token", None) or self._environ.get(TOKEN_ENV)
            if not url:
                raise CommandError(
                    f"no API address: set {URL_ENV} or pass --url (`make run` serves http://127.0.0.1:3000)"
                )
            if not token:
                raise CommandError(f"no token: set {TOKEN_ENV} or pass --token; {SIGN_IN_HINT}")
            try:
                self._client = self._factory(url.rstrip("/"), token)
            except ValueError as error:  # the Client refuses the address
                raise CommandError(f"{error} (--url or {URL_ENV})") from None
        return self._client


def _filters(args: argparse.Namespace) -> dict[str, str]:
    names = {
        "priority": "priority",
        "type": "type",
        "role": "required_role",
        "assigned_to": "assigned_to",
        "uow_id": "uow_id",
    }
    return {api: getattr(args, name) for name, api in names.items() if getattr(args, name, None)}


def open_queue(client: Client, filters: Mapping[str, str], limit: int) -> tuple[list[dict[str, Any]], bool]:
    """The open requests in the API's order (priority, then oldest first), at most `limit`, and whether
    there are more. An API that lists one status at a time (it refuses `status=OPEN`) is read twice and
    merged: PENDING in its order, IN_PROGRESS (listed newest first) all read and placed by the same rule."""
    page = min(PAGE_SIZE_MAX, limit + 1)
    try:
        items = [to_json(i) for i in islice(client.interventions(status="OPEN", limit=page, **filters), limit + 1)]
    except ValidationFailed as error:
        if "status" not in f"{error.message} {error.details}":
            raise
        pending = islice(client.interventions(status="PENDING", limit=page, **filters), limit + 1)
        claimed = client.interventions(status="IN_PROGRESS", limit=PAGE_SIZE_MAX, **filters)
        items = sorted((to_json(i) for i in [*pending, *claimed]), key=queue_order)[: limit + 1]
    return items[:limit], len(items) > limit


def queue_order(item: Mapping[str, Any]) -> tuple[int, str, str]:
    priority = str(item.get("priority"))
    rank = PRIORITIES.index(priority) if priority in PRIORITIES else len(PRIORITIES)
    moment = parse_time(item.get("created_at"))
    return rank, moment.isoformat() if moment else "", str(item.get("id"))


def intervention_id(context: Context, text: str) -> str:
    """A full ID as given; a prefix of one (as `oversight queue` shows them) resolved among the open requests."""
    if _FULL_ID.fullmatch(text) or not _ID_PREFIX.fullmatch(text):
        return text
    items, _ = open_queue(context.client, {}, PREFIX_SCAN_LIMIT)
    matches = [str(item.get("id")) for item in items if str(item.get("id")).lower().startswith(text.lower())]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise CommandError(f"no open request's ID starts with {text!r}: pass the full ID (`oversight queue --json`)")
    raise CommandError(f"{len(matches)} open requests' IDs start with {text!r}: give more characters")


def cmd_queue(context: Context) -> int:
    args, output = context.args, context.output
    items, more = open_queue(context.client, _filters(args), args.limit)
    if context.json:
        output.json({"items": items})
        return EXIT_OK
    if not items:
        output.line("No open requests.")
        return EXIT_OK
    for line in queue_table(items, output):
        output.line(line)
    count = f"{len(items)} open request{'s' if len(items) != 1 else ''}"
    output.line(f"\n{count}; more with --limit {args.limit * 2}." if more else f"\n{count}.")
    return EXIT_OK


def cmd_show(context: Context) -> int:
    client = context.client
    identifier = intervention_id(context, context.args.id)
    item = to_json(client.get_intervention(identifier))
    events = [to_json(event) for event in client.events(identifier)]
    if context.json:
        context.output.json({**item, "events": events})
    else:
        for line in intervention_lines(item, events, context.output):
            context.output.line(line)
    return EXIT_OK


ACTION_VERBS = {
    "claim": "Claimed",
    "release": "Released",
    "approve": "Approved",
    "reject": "Rejected",
    "cancel": "Cancelled",
    "complete": "Completed",
}


def cmd_action(context: Context) -> int:
    args, client = context.args, context.client
    identifier = intervention_id(context, args.id)
    response = parse_json_argument("--response", args.response) if getattr(args, "response", None) else None
    action = args.command
    if action == "claim":
        item = client.claim(identifier)
    elif action == "release":
        item = client.release(identifier)
    elif action == "approve":
        item = client.approve(identifier, args.reason, response)
    elif action == "reject":
        item = client.reject(identifier, args.reason, response)
    elif action == "cancel":
        item = client.cancel(identifier, args.reason)
    else:
        item = client.complete(identifier, args.reason)
    record = to_json(item)
    if context.json:
        context.output.json(record)
    else:
        verb = "Approval recorded for" if action == "approve" and record.get("status") != "APPROVED" else None
        context.output.line(summary(verb or ACTION_VERBS[action], record, context.output.style))
    return EXIT_OK


def cmd_comment(context: Context) -> int:
    args = context.args
    identifier = intervention_id(context, args.id)
    comment = to_json(context.client.comment(identifier, args.text))
    if context.json:
        context.output.json(comment)
    else:
        context.output.line(f"Comment added to {_short(identifier)} by {clean(comment.get('actor'))}.")
    return EXIT_OK


def cmd_request(context: Context) -> int:
    args, output, client = context.args, context.output, context.client
    if args.timeout is not None and not args.wait:
        raise CommandError("oversight request: --timeout applies to --wait: add --wait")
    fields: dict[str, Any] = {}
    if args.description is not None:
        fields["description"] = args.description
    if args.priority:
        fields["priority"] = args.priority
    if args.context is not None:
        fields["context"] = parse_json_argument("--context", args.context, require_object=True)
    if args.expires_in is not None:
        fields["expires_in_seconds"] = args.expires_in
    if args.required_role:
        fields["required_role"] = args.required_role
    if args.required_approvals:
        fields["required_approvals"] = args.required_approvals
    created = client.create_intervention(
        uow_id=args.uow_id, type=args.type, title=args.title, idempotency_key=args.idempotency_key, **fields
    )
    record = to_json(created)
    if not args.wait:
        if context.json:
            output.json(record)
        else:
            output.line(
                f"Created {clean(record.get('id'))}: {clean(record.get('status'))}, {clean(record.get('priority'))}, "
                f"expires in {time_left(record.get('expires_at'), output.now)}."
            )
        return EXIT_OK
    limit = f" for up to {duration(args.timeout)}" if args.timeout else ""
    output.note(f"Created {clean(record.get('id'))}; waiting{limit} for a decision (Ctrl-C stops waiting).")
    return _wait_for_decision(context, str(record.get("id")), args.timeout)


def _wait_for_decision(context: Context, identifier: str, timeout: float | None) -> int:
    output = context.output
    try:
        final = to_json(context.client.wait(identifier, timeout=timeout))
    except WaitTimeout as error:
        last = to_json(getattr(error, "intervention", None)) or {"id": identifier}
        if context.json:
            output.json(last)
        else:
            output.line(f"Still {clean(last.get('status', 'open'))} after {duration(timeout)}: {identifier}.")
        return EXIT_TIMEOUT
    except (Rejected, Expired, Cancelled) as error:  # not raised by `wait`, which returns every outcome
        final = to_json(error.intervention)
    status = str(final.get("status"))
    if context.json:
        output.json(final)
    else:
        text = f"{_status(status, output.style)}"
        if final.get("decided_by"):
            text += f" by {clean(final.get('decided_by'))}"
        if final.get("decision_reason"):
            text += f": {clean(final.get('decision_reason'))}"
        output.line(text)
        if final.get("response") is not None:
            output.line("Response:")
            for line in _pretty_json(final["response"], "  "):
                output.line(line)
    return DECISION_EXITS.get(status, EXIT_ERROR)


def cmd_jobs_run(context: Context) -> int:
    args, output, client = context.args, context.output, context.client
    if args.timeout is not None and not args.wait:
        raise CommandError("oversight jobs run: --timeout applies to --wait: add --wait")
    parameters = parse_parameters(args.parameters)
    job = to_json(
        client.submit(
            args.tool,
            parameters,
            use_cache=not args.no_cache,
            requires_approval=args.requires_approval,
            idempotency_key=args.idempotency_key,
        )
    )
    identifier = str(job.get("id"))
    if not args.wait:
        if context.json:
            output.json(job)
        else:
            gate = f"; approval request {clean(job['intervention_id'])}" if job.get("intervention_id") else ""
            output.line(f"Submitted {identifier}: {_status(job.get('status'), output.style)}{gate}.")
        return EXIT_OK
    output.note(f"Submitted {identifier}; waiting for it to finish (Ctrl-C stops waiting).")
    try:
        job = to_json(client.wait_job(identifier, timeout=args.timeout))
    except WaitTimeout as error:
        last = to_json(getattr(error, "job", None) or getattr(error, "intervention", None)) or {"id": identifier}
        if context.json:
            output.json(last)
        else:
            output.line(f"Still {clean(last.get('status', 'running'))} after {duration(args.timeout)}: {identifier}.")
        return EXIT_TIMEOUT
    if context.json:
        output.json(job)
    else:
        for line in job_lines(job, output):
            output.line(line)
    return JOB_EXITS.get(str(job.get("status")), EXIT_ERROR)


def cmd_jobs_show(context: Context) -> int:
    job = to_json(context.client.get_job(context.args.id))
    if context.json:
        context.output.json(job)
    else:
        for line in job_lines(job, context.output):
            context.output.line(line)
    return EXIT_OK


def cmd_jobs_logs(context: Context) -> int:
    items = [to_json(line) for line in context.client.logs(context.args.id)]
    if context.json:
        context.output.json({"items": items})
    elif not items:
        context.output.line("No log lines (yet).")
    else:
        for line in log_lines(items):
            context.output.line(line)
    return EXIT_OK


def cmd_jobs_tools(context: Context) -> int:
    tools = [to_json(tool) for tool in context.client.tools()]
    if context.json:
        context.output.json({"items": tools})
    else:
        for line in tool_lines(tools, context.output):
            context.output.line(line)
    return EXIT_OK


def cmd_stats(context: Context) -> int:
    stats = to_json(context.client.stats())
    if context.json:
        context.output.json(stats)
    else:
        for line in stats_lines(stats, context.output):
            context.output.line(line)
    return EXIT_OK


# ---------------------------------------------------------------- the parser


def _examples(*lines: str) -> str:
    return "examples:\n" + "\n".join(f"  {line}" for line in lines)


def _common_options(defaults: bool) -> argparse.ArgumentParser:
    """--url, --token, --json: before the command (`oversight --json queue`) or after it (`oversight queue
    --json`). A subcommand's copy has no defaults, so that it never overwrites what came before it."""
    common = argparse.ArgumentParser(add_help=False)
    default: Any = None if defaults else argparse.SUPPRESS
    common.add_argument("--url", default=default, help=f"the API's address (default: ${URL_ENV})")
    common.add_argument("--token", default=default, help=f"a bearer token (default: ${TOKEN_ENV})")
    common.add_argument(
        "--json",
        action="store_true",
        default=False if defaults else argparse.SUPPRESS,
        help="print the API's JSON instead of text",
    )
    return common


def build_parser() -> argparse.ArgumentParser:
    common = _common_options(defaults=False)
    parser = _Parser(
        prog="oversight",
        description="Work the Oversight queue, raise requests and run jobs from a shell.",
        parents=[_common_options(defaults=True)],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=_examples(
            "export OVERSIGHT_URL=http://127.0.0.1:3000",
            "export OVERSIGHT_TOKEN=$(make -s token SUB=pilot-ana ROLES=operator)",
            "oversight queue",
            "oversight approve 3f2a9c1b --reason 'Canary is healthy'",
        )
        + "\n\nexit codes: 0 success, 4 any error; with --wait (request, jobs run): 1 rejected or failed, "
        "2 expired or cancelled, 3 timeout",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(
        name: str, help_text: str, examples: Sequence[str], container: Any = commands
    ) -> argparse.ArgumentParser:
        sub: argparse.ArgumentParser = container.add_parser(
            name,
            help=help_text,
            description=help_text[0].upper() + help_text[1:] + ".",
            parents=[common],
            formatter_class=argparse.RawDescriptionHelpFormatter,
            epilog=_examples(*examples),
        )
        return sub

    queue = command(
        "queue",
        "list the open requests (PENDING and IN_PROGRESS), critical first, then oldest first",
        [
            "oversight queue",
            "oversight queue --priority critical --role finance",
            "oversight queue --json | jq -r '.items[].id'",
        ],
    )
    queue.add_argument("--priority", choices=PRIORITIES, help="only this priority")
    queue.add_argument("--type", choices=TYPES, help="only this type")
    queue.add_argument("--role", help="only requests for this required role")
    queue.add_argument("--assigned-to", metavar="USER", help="only requests assigned to this user")
    queue.add_argument("--uow-id", metavar="UOW", help="only requests of this unit of work")
    queue.add_argument(
        "--limit", type=_positive_int, metavar="N", default=QUEUE_LIMIT, help="at most this many (default: 50)"
    )
    queue.set_defaults(handler=cmd_queue)
    queue.epilog = (queue.epilog or "") + (
        "\n\nThe table shows the first 8 characters of each ID; every command takes such a prefix."
    )

    show = command(
        "show",
        "show one request: every field, then its audit trail",
        ["oversight show 3f2a9c1b", "oversight show 3f2a9c1b-5d1e-4b6a-9c2f-0e4d8a7b6c5d --json"],
    )
    show.add_argument("id", metavar="ID", help="the request's ID (or the prefix `oversight queue` shows)")
    show.set_defaults(handler=cmd_show)

    actions = {
        "claim": ("claim a request: it becomes IN_PROGRESS, assigned to you", ["oversight claim 3f2a9c1b"]),
        "release": ("release a request you claimed: back to PENDING", ["oversight release 3f2a9c1b"]),
        "approve": (
            "approve a request, with a reason and optionally a JSON answer",
            [
                "oversight approve 3f2a9c1b --reason 'Canary is healthy'",
                "oversight approve 3f2a9c1b --reason 'Refund checked' --response '{\"refund_id\": \"R-12\"}'",
            ],
        ),
        "reject": ("reject a request, with a reason", ["oversight reject 3f2a9c1b --reason 'Error rate is up'"]),
        "cancel": ("withdraw a request you raised", ["oversight cancel 3f2a9c1b --reason 'No longer needed'"]),
        "complete": (
            "report the approved action done: APPROVED becomes COMPLETED",
            ["oversight complete 3f2a9c1b --reason 'Deployed 4.2'"],
        ),
    }
    for name, (help_text, examples) in actions.items():
        action = command(name, help_text, examples)
        action.add_argument("id", metavar="ID", help="the request's ID (or the prefix `oversight queue` shows)")
        if name in ("approve", "reject"):
            action.add_argument("--reason", required=True, help="why (1-2000 characters; kept in the audit trail)")
            action.add_argument("--response", metavar="JSON", help="an answer for the requester, any JSON")
        elif name in ("cancel", "complete"):
            action.add_argument("--reason", help="why (kept in the audit trail)")
        action.set_defaults(handler=cmd_action)

    comment = command(
        "comment",
        "add a comment to a request's audit trail (in any state)",
        ["oversight comment 3f2a9c1b 'Waiting for the canary to settle'"],
    )
    comment.add_argument("id", metavar="ID", help="the request's ID (or the prefix `oversight queue` shows)")
    comment.add_argument("text", metavar="TEXT", help="the comment (1-2000 characters)")
    comment.set_defaults(handler=cmd_comment)

    request = command(
        "request",
        "raise a request for a decision, and optionally wait for it",
        [
            "oversight request --uow-id deploy-42 --type approval --title 'Promote 4.2 to prod' --priority high",
            "oversight request --uow-id deploy-42 --type approval --title 'Promote 4.2' --wait --timeout 30m \\",
            "  && ./promote.sh",
            "oversight request --uow-id etl-9 --type clarification --title 'Which region?' \\",
            '  --context \'{"candidates": ["eu", "us"]}\' --expires-in 2h --wait --json',
        ],
    )
    request.epilog = (request.epilog or "") + (
        "\n\nexit codes with --wait: 0 approved (or completed), 1 rejected, 2 expired or cancelled, 3 timeout, 4 error"
    )
    request.add_argument("--uow-id", required=True, help="the unit of work it is about (your own identifier)")
    request.add_argument("--type", required=True, choices=TYPES, help="what is asked")
    request.add_argument("--title", required=True, help="one line for the queue (1-200 characters)")
    request.add_argument("--priority", choices=PRIORITIES, help="default: normal")
    request.add_argument("--description", help="more text (up to 4000 characters)")
    request.add_argument("--context", metavar="JSON", help="a JSON object shown to the deciders (up to 16 KiB)")
    request.add_argument(
        "--expires-in", type=_whole_seconds, metavar="DURATION", help="60s to 30d, e.g. 90s, 15m, 2h (default: 1h)"
    )
    request.add_argument("--required-role", help="who may decide (default: operator)")
    request.add_argument("--required-approvals", type=_positive_int, metavar="N", help="distinct approvers needed")
    request.add_argument("--idempotency-key", metavar="KEY", help="the same key twice creates one request (24 h)")
    request.add_argument("--wait", action="store_true", help="wait for the decision; the exit code says which")
    request.add_argument("--timeout", type=parse_duration, metavar="DURATION", help="stop waiting after, e.g. 10m")
    request.set_defaults(handler=cmd_request)

    jobs = command("jobs", "run tools and read their results and logs", ["oversight jobs run recompute_stats"])
    job_commands = jobs.add_subparsers(dest="job_command", metavar="JOBS_COMMAND", required=True)
    run = command(
        "run",
        "submit a job: a tool with key=value parameters (each value JSON when it parses, else a string)",
        [
            "oversight jobs run export_interventions format=csv status=APPROVED --wait",
            "oversight jobs run http_post url=https://hooks.example.com/x 'json={\"ok\": true}'",
            "oversight jobs run recompute_stats --requires-approval",
        ],
        job_commands,
    )
    run.epilog = (run.epilog or "") + (
        "\n\nexit codes with --wait: 0 completed, 1 failed or rejected, 2 cancelled, 3 timeout, 4 error"
    )
    run.add_argument("tool", metavar="TOOL", help="the tool's name (`oversight jobs tools` lists them)")
    run.add_argument("parameters", metavar="key=value", nargs="*", help="the tool's parameters")
    run.add_argument("--wait", action="store_true", help="wait for the job to finish and show its result")
    run.add_argument("--timeout", type=parse_duration, metavar="DURATION", help="stop waiting after, e.g. 10m")
    run.add_argument("--no-cache", action="store_true", help="run even when a cached result exists")
    run.add_argument("--requires-approval", action="store_true", help="run only once a person approves it")
    run.add_argument("--idempotency-key", metavar="KEY", help="the same key twice submits one job (24 h)")
    run.set_defaults(handler=cmd_jobs_run)
    logs = command("logs", "print a job's log lines", ["oversight jobs logs 7c1e…"], job_commands)
    logs.add_argument("id", metavar="ID", help="the job's ID")
    logs.set_defaults(handler=cmd_jobs_logs)
    job_show = command("show", "show a job: status, result, output files", ["oversight jobs show 7c1e…"], job_commands)
    job_show.add_argument("id", metavar="ID", help="the job's ID")
    job_show.set_defaults(handler=cmd_jobs_show)
    tools = command("tools", "list the tools jobs can run", ["oversight jobs tools"], job_commands)
    tools.set_defaults(handler=cmd_jobs_tools)

    stats = command("stats", "print the dashboard figures", ["oversight stats", "oversight stats --json"])
    stats.set_defaults(handler=cmd_stats)
    return parser


def parse_arguments(argv: Sequence[str]) -> argparse.Namespace:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    # argparse does not take positionals after an option (`jobs run T --wait a=1`): those pairs come back here.
    if getattr(args, "handler", None) is cmd_jobs_run:
        pairs = [item for item in extra if not item.startswith("-") and "=" in item]
        args.parameters = [*args.parameters, *pairs]
        extra = [item for item in extra if item not in pairs]
    if extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    return args


# ---------------------------------------------------------------- errors


def error_line(error: BaseException, url: str = "") -> str:
    """One line saying what went wrong and what to do."""
    if isinstance(error, CommandError):
        text = str(error)
    elif isinstance(error, Unauthorized):
        text = f"{error.message} (401): {SIGN_IN_HINT}"
    elif isinstance(error, Forbidden):
        text = f"{error.message} (403): your token's roles or tenant do not allow this"
    elif isinstance(error, NotFound):
        text = f"{error.message} (404): check the ID (`oversight queue` lists the open requests)"
    elif isinstance(error, TransportError):  # before OversightError, its base: there was no answer
        where = f" {url}" if url else ""
        text = f"cannot reach{where}: {error.message}; is the API running (`make run`) and {URL_ENV} right?"
    elif isinstance(error, OversightError):
        text = f"{error.message} ({error.status} {error.code})" + _details(error.details)
    else:
        text = f"unexpected {type(error).__name__}: {error}"
    return "oversight: " + " ".join(clean(text).split())


def _details(details: object) -> str:
    if not isinstance(details, list) or not details:
        return ""
    parts = []
    for detail in details[:3]:
        if isinstance(detail, Mapping):
            location = [str(part) for part in detail.get("loc") or () if part not in ("body", "query", "path")]
            message = detail.get("msg") or detail.get("message") or ""
            parts.append(f"{'.'.join(location)}: {message}" if location else str(message))
    more = f" (+{len(details) - 3} more)" if len(details) > 3 else ""
    return (": " + "; ".join(parts) + more) if parts else ""


# ---------------------------------------------------------------- entry point


def run(
    argv: Sequence[str] | None = None,
    *,
    client_factory: ClientFactory | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    environ: Mapping[str, str] | None = None,
    now: datetime | None = None,
) -> int:
    """`main` with its surroundings passed in (the tests' way in)."""
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    env = os.environ if environ is None else environ
    width = shutil.get_terminal_size().columns if environ is None else _columns(env)
    output = Output(out, err, Style.for_stream(out, env), max(20, width), now or datetime.now(UTC))
    context: Context | None = None
    try:
        args = parse_arguments(list(sys.argv[1:] if argv is None else argv))
        context = Context(args, client_factory or _client, output, env)
        handler: Callable[[Context], int] = args.handler
        return handler(context)
    except SystemExit as done:  # --help, --version
        return done.code if isinstance(done.code, int) else EXIT_OK
    except KeyboardInterrupt:
        print("oversight: interrupted", file=err)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `oversight queue | head`
        return EXIT_OK
    except Exception as error:
        print(error_line(error, context.url if context else ""), file=err)
        return EXIT_ERROR


def _columns(environ: Mapping[str, str]) -> int:
    try:
        return int(environ.get("COLUMNS", "80"))
    except ValueError:
        return 80


def _client(url: str, token: str) -> Client:
    return Client(url, token)


def main(argv: Sequence[str] | None = None) -> int:
    code = run(argv)
    try:
        sys.stdout.flush()
    except BrokenPipeError:  # the reader left early (`oversight queue | head -1`): not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return code


if __name__ == "__main__":
    sys.exit(main())
