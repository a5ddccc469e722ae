"""Tools that jobs run. Importing this package registers the built-in tools;
to add one, write a module with a @tool function and import it here
(docs/tools.md)."""

# The built-in tools, imported for their @tool registration.
from oversight.tools import export_interventions, http_post, recompute_stats  # noqa: F401
from oversight.tools.registry import (
    JobCancelled,
    NoParameters,
    RunContext,
    Tool,
    ToolError,
    ToolRegistry,
    all_tools,
    get_tool,
    tool,
)

__all__ = [
    "JobCancelled",
    "NoParameters",
    "RunContext",
    "Tool",
    "ToolError",
    "ToolRegistry",
    "all_tools",
    "get_tool",
    "tool",
]
