"""The local runtime assembled: emulated AWS provisioned from the template,
its saved data restored, the functions' environment applied, then the HTTP
API, the queue and stream pollers, the rules' function targets and the
schedules started."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

from local_runtime.aws import FAKE_CREDENTIALS, EmulatedAws, point_sdk_at
from local_runtime.emulation import install_moto_patches
from local_runtime.emulation.keys import load_or_create_seed, use_seed
from local_runtime.environment import (
    EnvFileInvalid,
    Override,
    SettingInvalid,
    function_environments,
    read_env_file,
    retry_scale,
    unknown_env_file_scopes,
)
from local_runtime.event_targets import TargetPoller, target_sources
from local_runtime.function_logs import FunctionOutput
from local_runtime.invocation import DEFAULT_MAX_ENVIRONMENTS, FunctionError, LocalFunction
from local_runtime.persistence import Snapshotter, StateStore
from local_runtime.routing import Router
from local_runtime.s3_gateway import S3Gateway
from local_runtime.server import ApiServer, HttpApi
from local_runtime.stream_poller import POSITIONS_FILE, StreamPoller, StreamPositions, StreamTrimmer, stream_sources
from local_runtime.template import Template
from local_runtime.workers import QueuePoller, ScheduleRunner, queue_sources, schedule_sources

# How long stopping waits for a request, batch or scheduled run in progress.
_STOP_WAIT_SECONDS = 10.0


class StartFailed(Exception):
    """The runtime cannot start as configured (a function that does not
    import, an unreadable env.json)."""


@dataclass
class RuntimeConfig:
    template: Path
    state_dir: Path
    host: str
    port: int
    jwt_secret: str
    schedule_seconds: float | None = None
    env_file: Path | None = None
    verbose: bool = False
    max_environments: int = DEFAULT_MAX_ENVIRONMENTS


@dataclass
class Startup:
    """What the banner reports."""

    restored: dict[str, int] = field(default_factory=dict)
    overrides: list[Override] = field(default_factory=list)
    skipped_schedules: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


class LocalRuntime:
    def __init__(self, config: RuntimeConfig) -> None:
        self.config = config
        # The shell's variables, before the runtime sets any of its own.
        self.shell = dict(os.environ)
        self.template = Template(config.template.resolve())
        self.aws = EmulatedAws()  # on the loopback whatever --host says: only this machine needs it
        self.functions: dict[str, LocalFunction] = {}
        self.queue_pollers: list[QueuePoller] = []
        self.stream_pollers: list[StreamPoller] = []
        self.target_pollers: list[TargetPoller] = []
        self.schedules: list[ScheduleRunner] = []
        self._server: ApiServer | None = None
        self._snapshotter: Snapshotter | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return self._server.url

    @property
    def s3_endpoint(self) -> str:
        """Where the functions (and their presigned URLs) reach S3: on the
        API's port, which stays the same across restarts."""
        assert self._server is not None
        return self._server.s3_endpoint

    def start(self) -> Startup:
        startup = Startup()
        try:
            scale = retry_scale(self.shell)
        except SettingInvalid as error:
            raise StartFailed(str(error)) from error
        self._server = ApiServer(self.config.host, self.config.port)
        install_moto_patches()
        use_seed(load_or_create_seed(self.config.state_dir))  # the template's KMS keys, the same on every start
        self.aws.start()
        self.aws.provision(self.template)
        store = StateStore(self.config.state_dir, self.template, self.aws.client("s3"))
        startup.restored = store.restore()  # the snapshot, then the journal written since
        assert self.aws.writes is not None
        store.start_journal(self.aws.writes)  # from here on a write is answered once it is on disk

        point_sdk_at(self.aws.sdk_environment())  # the runtime's own SDK calls (pollers, snapshots)
        self.functions = self._functions(startup)
        self._warm_all()

        sqs = self.aws.client("sqs")
        self.queue_pollers = [QueuePoller(source, sqs) for source in queue_sources(self.template, self.functions)]
        self.target_pollers = [
            TargetPoller(source, sqs, scale) for source in target_sources(self.template, self.functions)
        ]
        self._start_streams(sqs)
        scheduled, startup.skipped_schedules = schedule_sources(
            self.template, self.functions, self.config.schedule_seconds
        )
        self.schedules = [ScheduleRunner(source) for source in scheduled]

        self._snapshotter = Snapshotter(store)  # compacts the journal; saves and closes it on stop
        self._snapshotter.start()
        s3 = S3Gateway(self.aws.writes, FAKE_CREDENTIALS)  # the stable S3 address, on the API's port
        self._server.start(HttpApi(Router(self.template), self.functions, self.config.jwt_secret, s3=s3))
        for worker in self._workers():
            worker.start()
        return startup

    def _workers(self) -> list[QueuePoller | StreamPoller | TargetPoller | ScheduleRunner]:
        return [*self.queue_pollers, *self.stream_pollers, *self.target_pollers, *self.schedules]

    def _start_streams(self, sqs: object) -> None:
        """A poller per DynamoDB event source, each from its kept position;
        the streams trimmed to what they have yet to read."""
        try:
            sources = stream_sources(self.template, self.functions)
            positions = StreamPositions(self.config.state_dir / POSITIONS_FILE)
        except ValueError as error:
            raise StartFailed(str(error)) from error
        pollers: list[StreamPoller] = []
        trimmer = StreamTrimmer(self.template, pollers)
        pollers += [
            StreamPoller(source, self.template, positions, sqs, on_moved=lambda moved: trimmer.trim(moved.table_id))
            for source in sources
        ]
        for poller in pollers:
            poller.start_position()
        trimmer.trim_all()
        self.stream_pollers = pollers

    def _functions(self, startup: Startup) -> dict[str, LocalFunction]:
        specs = self.template.functions()
        env_file = None
        if self.config.env_file is not None:
            try:
                env_file = (self.config.env_file, read_env_file(self.config.env_file))
            except EnvFileInvalid as error:
                raise StartFailed(str(error)) from error
            for scope in unknown_env_file_scopes(env_file[1], specs):
                startup.warnings.append(f"{self.config.env_file}: {scope!r} is not a function of the template")
        environments, startup.overrides = function_environments(
            specs, self.shell, self.aws.sdk_environment(s3_endpoint=self.s3_endpoint), env_file
        )
        metrics = self.shell.get("POWERTOOLS_METRICS_DISABLED", "true").lower() == "false"
        output = FunctionOutput(verbose=self.config.verbose or "LOG_LEVEL" in self.shell, metrics=metrics)
        return {
            spec.logical_id: LocalFunction(spec, environments[spec.logical_id], output, self.config.max_environments)
            for spec in specs
        }

    def _warm_all(self) -> None:
        """One environment per function, started side by side: a function
        that does not import stops the runtime here, with its traceback."""
        failures: list[str] = []

        def warm(function: LocalFunction) -> None:
            try:
                function.warm()
            except FunctionError as error:
                failures.append(str(error))

        threads = [threading.Thread(target=warm, args=(function,)) for function in self.functions.values()]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if failures:
            for function in self.functions.values():
                function.stop()
            raise StartFailed("\n".join(failures))

    def stop(self) -> None:
        """Stop taking work, let work in progress finish (within a bound),
        save the state, stop the emulator."""
        if self._server is not None:
            self._server.stop(_STOP_WAIT_SECONDS)
        for worker in self._workers():
            worker.stop(_STOP_WAIT_SECONDS)
        for function in self.functions.values():
            function.stop()
        if self._snapshotter is not None:
            self._snapshotter.stop()
        self.aws.stop()
