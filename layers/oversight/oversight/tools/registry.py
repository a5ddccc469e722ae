"""The tool registry: named callables with a validated parameters model,
and the context a running job gives them (see docs/tools.md).

A tool is `def fn(params: Model, ctx: RunContext) -> JSON-able value`,
registered with `@tool(...)`. The jobs API validates a submission against
`Tool.parameters`; the worker calls `Tool.run` with an implementation of
`RunContext`."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypeVar, get_args

from pydantic import BaseModel, ConfigDict

from oversight.models import OutputFile
from oversight.models.common import Model
from oversight.models.intervention import ROLE_PATTERN

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]
LOG_LEVELS: frozenset[str] = frozenset(get_args(LogLevel))

# Tool names appear in URLs, keys and stats attributes: keep them plain.
_TOOL_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
# A run cannot outlast the Lambda that executes it.
MAX_TIMEOUT_SECONDS = 900


class JobCancelled(Exception):
    """Raised by a tool that saw `ctx.cancelled()`: the worker marks the job
    CANCELLED, not FAILED."""


class ToolError(Exception):
    """An expected failure the tool can explain (a refused host, a network
    error): the worker marks the job FAILED with this message as `error`,
    without retrying (the same run would fail the same way)."""


class RunContext(Protocol):
    """What a running job offers its tool. The worker implements it;
    RecordingRunContext (oversight.tools.recording) is the in-memory one."""

    @property
    def job_id(self) -> str: ...

    @property
    def tenant(self) -> str:
        """The tenant the job belongs to: a tool reads and writes only its data."""
        ...

    def log(self, level: LogLevel, message: str) -> None:
        """Append a line to the job's logs (GET /jobs/{id}/logs)."""

    def write_output(self, name: str, chunks: Iterable[bytes], content_type: str) -> OutputFile:
        """Stream one output file of the job, consuming `chunks` lazily (the
        whole file is never in memory). `name` is a plain file name, unique
        within the job. If iterating `chunks` raises, no file is kept and the
        exception propagates to the tool."""
        ...

    def cancelled(self) -> bool:
        """True once cancellation was requested. Long tools ask between units
        of work (and while waiting) and raise JobCancelled. Cheap: the
        worker's implementation reads the store only now and then."""
        ...


class NoParameters(Model):
    """The parameters model of a tool that takes none (`{}` only)."""

    model_config = ConfigDict(extra="forbid")


P = TypeVar("P", bound=BaseModel)
RunFunction = Callable[[Any, RunContext], Any]
# From the stored (validated, dumped) parameters to the parameters as readers
# of the job see them: secrets replaced. The run still gets the real ones.
RedactFunction = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    parameters: type[BaseModel]
    timeout_seconds: int
    cacheable: bool
    run: RunFunction
    # Only holders of this role (or admins) may submit the tool; None: any requester.
    required_role: str | None = None
    redact: RedactFunction | None = None
    # It acts outside the service (e.g. calls another system): an approval gate
    # of it may default to approve at expiry only when an admin submits it.
    reaches_outside: bool = False

    def __post_init__(self) -> None:
        if not _TOOL_NAME.fullmatch(self.name):
            raise ValueError(f"tool name {self.name!r} must match {_TOOL_NAME.pattern}")
        if not (isinstance(self.parameters, type) and issubclass(self.parameters, BaseModel)):
            raise TypeError(f"tool {self.name}: parameters must be a pydantic model class")
        # An unknown parameter is a typo the submitter must hear about (422),
        # not something silently ignored.
        if self.parameters.model_config.get("extra") != "forbid":
            raise TypeError(f"tool {self.name}: parameters model must set extra='forbid'")
        if not 1 <= self.timeout_seconds <= MAX_TIMEOUT_SECONDS:
            raise ValueError(f"tool {self.name}: timeout_seconds must be 1-{MAX_TIMEOUT_SECONDS}")
        if self.required_role is not None and not re.fullmatch(ROLE_PATTERN, self.required_role):
            raise ValueError(f"tool {self.name}: required_role must match {ROLE_PATTERN}")

    def shown_parameters(self, parameters: dict[str, Any]) -> dict[str, Any]:
        """The parameters as readers of a job see them (secrets redacted)."""
        return self.redact(parameters) if self.redact else parameters

    def schema(self) -> dict[str, Any]:
        """JSON schema of the parameters, as GET /tools shows it."""
        return self.parameters.model_json_schema()


class ToolRegistry:
    def __init__(self) -> None:
        self._tools: dict[str, Tool] = {}

    def register(self, tool: Tool) -> None:
        if tool.name in self._tools:
            raise ValueError(f"a tool named {tool.name!r} is already registered")
        self._tools[tool.name] = tool

    def unregister(self, name: str) -> None:
        """Remove a tool (for tests that add one for the duration of a test)."""
        del self._tools[name]

    def get(self, name: str) -> Tool | None:
        return self._tools.get(name)

    def all_tools(self) -> list[Tool]:
        return sorted(self._tools.values(), key=lambda t: t.name)

    def tool(
        self,
        *,
        name: str,
        description: str,
        parameters: type[P],
        timeout_seconds: int,
        cacheable: bool,
        required_role: str | None = None,
        redact: RedactFunction | None = None,
        reaches_outside: bool = False,
    ) -> Callable[[Callable[[P, RunContext], Any]], Callable[[P, RunContext], Any]]:
        """Decorator: register the function as a tool; the function itself is
        returned unchanged (callable directly in tests)."""

        def register(run: Callable[[P, RunContext], Any]) -> Callable[[P, RunContext], Any]:
            self.register(
                Tool(
                    name,
                    description,
                    parameters,
                    timeout_seconds,
                    cacheable,
                    run,
                    required_role,
                    redact,
                    reaches_outside,
                )
            )
            return run

        return register


# The registry the jobs API and the worker use; `import oversight.tools`
# fills it with the built-in tools.
DEFAULT_REGISTRY = ToolRegistry()
tool = DEFAULT_REGISTRY.tool


def get_tool(name: str) -> Tool | None:
    return DEFAULT_REGISTRY.get(name)


def all_tools() -> list[Tool]:
    """Every registered tool, sorted by name."""
    return DEFAULT_REGISTRY.all_tools()
