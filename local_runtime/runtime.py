"""The local runtime assembled: emulated AWS provisioned from the template,
its saved data restored, the functions' environment applied, then the HTTP
API, the queue pollers and the schedules started."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from local_runtime.aws import EmulatedAws, point_sdk_at
from local_runtime.emulation import make_dynamodb_writes_atomic
from local_runtime.invocation import LocalFunction
from local_runtime.persistence import Snapshotter, StateStore
from local_runtime.routing import Router
from local_runtime.server import ApiServer, HttpApi
from local_runtime.template import FunctionSpec, Template
from local_runtime.workers import QueuePoller, ScheduleRunner, queue_sources, schedule_sources

# Local settings, each overridable from the shell: no X-Ray daemon here; no
# CloudWatch to read metric (EMF) lines; one service name for one process.
LOCAL_DEFAULTS = {
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_DISABLED": "true",
    "POWERTOOLS_SERVICE_NAME": "oversight-local",
}
# How long stopping waits for a request, batch or scheduled run in progress.
_STOP_WAIT_SECONDS = 10.0


@dataclass
class RuntimeConfig:
    template: Path
    state_dir: Path
    host: str
    port: int
    jwt_secret: str
    schedule_seconds: float | None = None


@dataclass
class Startup:
    """What the banner reports."""

    restored: dict[str, int] = field(default_factory=dict)
    not_shared: list[str] = field(default_factory=list)
    skipped_schedules: list[str] = field(default_factory=list)


def process_environment(specs: list[FunctionSpec]) -> tuple[dict[str, str], list[str]]:
    """One process serves every function, so their variables are set once,
    process-wide. Returns the variables the functions agree on, and the
    names they give different values (not set)."""
    values: dict[str, set[str]] = {}
    for spec in specs:
        for name, value in spec.environment.items():
            values.setdefault(name, set()).add(value)
    agreed = {name: next(iter(found)) for name, found in values.items() if len(found) == 1}
    return agreed, sorted(name for name, found in values.items() if len(found) > 1)


class LocalRuntime:
    def __init__(self, config: RuntimeConfig) -> None:
        self.config = config
        self.template = Template(config.template.resolve())
        self.aws = EmulatedAws()  # on the loopback whatever --host says: only this machine needs it
        self.functions: dict[str, LocalFunction] = {}
        self.queue_pollers: list[QueuePoller] = []
        self.schedules: list[ScheduleRunner] = []
        self._server: ApiServer | None = None
        self._snapshotter: Snapshotter | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return self._server.url

    def start(self) -> Startup:
        startup = Startup()
        self._server = ApiServer(self.config.host, self.config.port)
        make_dynamodb_writes_atomic()
        self.aws.start()
        self.aws.provision(self.template)
        store = StateStore(self.config.state_dir, self.template, self.aws.client("s3"))
        startup.restored = store.restore()

        point_sdk_at(self.aws.sdk_environment())
        specs = self.template.functions()
        for name, value in LOCAL_DEFAULTS.items():
            os.environ.setdefault(name, value)
        agreed, startup.not_shared = process_environment(specs)
        os.environ.update(agreed)

        self.functions = {spec.logical_id: LocalFunction(spec) for spec in specs}
        for function in self.functions.values():
            function.warm()

        sqs = self.aws.client("sqs")
        self.queue_pollers = [QueuePoller(source, sqs) for source in queue_sources(self.template, self.functions)]
        scheduled, startup.skipped_schedules = schedule_sources(
            self.template, self.functions, self.config.schedule_seconds
        )
        self.schedules = [ScheduleRunner(source) for source in scheduled]

        assert self.aws.writes is not None
        self._snapshotter = Snapshotter(store, self.aws.writes.take_changes)
        self._snapshotter.start()
        self._server.start(HttpApi(Router(self.template), self.functions, self.config.jwt_secret))
        for worker in [*self.queue_pollers, *self.schedules]:
            worker.start()
        return startup

    def stop(self) -> None:
        """Stop taking work, let work in progress finish (within a bound),
        save the state, stop the emulator."""
        if self._server is not None:
            self._server.stop(_STOP_WAIT_SECONDS)
        for worker in [*self.queue_pollers, *self.schedules]:
            worker.stop(_STOP_WAIT_SECONDS)
        if self._snapshotter is not None:
            self._snapshotter.stop()
        self.aws.stop()
