"""A Lambda context object with a real remaining-time countdown, for
handlers invoked in this process (the integration tests): the one the
execution environments use (function_host.HostContext), given a timeout."""

from __future__ import annotations

import time

from local_runtime.function_host import HostContext


class LocalLambdaContext(HostContext):
    def __init__(self, function_name: str, timeout_seconds: int, memory_mb: int = 512) -> None:
        super().__init__(function_name, memory_mb, deadline=time.time() + timeout_seconds)
