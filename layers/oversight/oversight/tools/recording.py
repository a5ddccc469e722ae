"""An in-memory RunContext: runs a tool without AWS and records what it did.
For tests (of tools and of the worker) and for running a tool by hand."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from oversight.models import OutputFile
from oversight.tools.registry import LOG_LEVELS, LogLevel


@dataclass
class RecordingRunContext:
    """Keeps log lines and output files in memory and enforces the
    RunContext contract (known log levels, bytes chunks, unique names).

    Cancellation: `cancel()` flips it; `cancel_after=n` answers the first n
    `cancelled()` checks with False and every later one with True, to cancel
    a tool part-way through."""

    job_id: str = "job-0"
    tenant: str = "acme"
    cancel_after: int | None = None
    # What the tool did:
    logs: list[tuple[LogLevel, str]] = field(default_factory=list, init=False)
    outputs: dict[str, bytes] = field(default_factory=dict, init=False)
    content_types: dict[str, str] = field(default_factory=dict, init=False)
    chunk_counts: dict[str, int] = field(default_factory=dict, init=False)
    cancel_checks: int = field(default=0, init=False)
    _cancel_requested: bool = field(default=False, init=False, repr=False)

    def log(self, level: LogLevel, message: str) -> None:
        if level not in LOG_LEVELS:
            raise ValueError(f"log level must be one of {sorted(LOG_LEVELS)}, not {level!r}")
        self.logs.append((level, message))

    def write_output(self, name: str, chunks: Iterable[bytes], content_type: str) -> OutputFile:
        if name in self.outputs:
            raise ValueError(f"output {name!r} was already written by this job")
        parts: list[bytes] = []
        # Consumed one chunk at a time, as the S3 upload does; an exception
        # from the tool's generator leaves no file behind.
        for chunk in chunks:
            if not isinstance(chunk, bytes):
                raise TypeError(f"output chunks must be bytes, not {type(chunk).__name__}")
            parts.append(chunk)
        self.outputs[name] = b"".join(parts)
        self.content_types[name] = content_type
        self.chunk_counts[name] = len(parts)
        return OutputFile(name=name, size_bytes=len(self.outputs[name]))

    def cancel(self) -> None:
        self._cancel_requested = True

    def cancelled(self) -> bool:
        self.cancel_checks += 1
        if self.cancel_after is not None and self.cancel_checks > self.cancel_after:
            return True
        return self._cancel_requested
