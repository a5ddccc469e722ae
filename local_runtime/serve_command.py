"""`python -m local_runtime serve` (`make run`): the local runtime started
with the command line's settings, its banner, and a stop on Ctrl-C that
saves the state."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading

from local_runtime.emulation import UntestedMoto
from local_runtime.invocation import DEFAULT_MAX_ENVIRONMENTS
from local_runtime.persistence import RestoreFailed
from local_runtime.runtime import LocalRuntime, RuntimeConfig, StartFailed, Startup
from local_runtime.server import PortUnavailable
from local_runtime.state_lock import hold_state_dir_or_exit
from local_runtime.tokens import jwt_secret


def serve(args: argparse.Namespace) -> int:
    """Serve until Ctrl-C (or SIGTERM); 1 if the runtime cannot start."""
    stop = _stop_on_signals()
    config = _runtime_config(args)
    hold_state_dir_or_exit(config.state_dir, f"http://{config.host}:{config.port}" if config.port else None)
    runtime = LocalRuntime(config)
    startup = _started(runtime)
    if startup is None:
        return 1
    _print_banner(runtime, startup)
    stop.wait()
    print("stopping...", flush=True)
    runtime.stop()
    print("stopped; state saved.", flush=True)
    return 0


def _stop_on_signals() -> threading.Event:
    """Set on the first SIGINT or SIGTERM; a second one leaves at once."""
    stop = threading.Event()

    def request_stop(signum: int, _frame: object) -> None:
        if stop.is_set():
            os._exit(128 + signum)  # asked twice: leave now (the last snapshot is intact)
        stop.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    return stop


def _runtime_config(args: argparse.Namespace) -> RuntimeConfig:
    schedule_seconds = os.environ.get("OVERSIGHT_LOCAL_SCHEDULE_SECONDS")
    return RuntimeConfig(
        template=args.template,
        state_dir=args.state_dir.resolve(),
        host=args.host,
        port=args.port,
        jwt_secret=jwt_secret(),
        schedule_seconds=float(schedule_seconds) if schedule_seconds else None,
        env_file=args.env_vars,
        max_environments=int(os.environ.get("OVERSIGHT_LOCAL_MAX_ENVIRONMENTS") or DEFAULT_MAX_ENVIRONMENTS),
        verbose=args.verbose or "LOG_LEVEL" in os.environ,
    )


def _started(runtime: LocalRuntime) -> Startup | None:
    """Start the runtime; None, having said why on stderr, if it cannot."""
    try:
        return runtime.start()
    except RestoreFailed as error:
        print(f"{error}\n`make reset` wipes the local state.", file=sys.stderr)
    except PortUnavailable as error:
        print(f"{error} (PORT=... picks another)", file=sys.stderr)
    except StartFailed as error:
        runtime.stop()
        print(f"cannot start: {error}", file=sys.stderr)
    except UntestedMoto as error:
        print(error, file=sys.stderr)
    return None


def _print_banner(runtime: LocalRuntime, startup: Startup) -> None:
    url = runtime.url
    restored = ", ".join(f"{count} {kind}" for kind, count in startup.restored.items())
    console = any(route.path.startswith("/console") for f in runtime.functions.values() for route in f.spec.routes)
    lines = [
        f"Oversight local runtime: {url}",
        *([f"  console    {url}/console/  (sign in with the local form: user, roles, tenant)"] if console else []),
        f"  template   {runtime.template.path}  (every route, function, table, queue and schedule comes from it)",
        f"  data       {runtime.config.state_dir}  (restored {restored}; kept across restarts, `make reset` wipes it)",
        f"  AWS        DynamoDB (and its streams), SQS, S3, EventBridge, KMS and Step Functions emulated by moto at"
        f" {runtime.aws.endpoint}: no AWS account is used",
        f"  S3         {runtime.s3_endpoint}  (presigned URLs of job outputs point here: valid across restarts)",
        *_served_lines(runtime, startup),
    ]
    if not runtime.config.verbose:
        lines.append("  logs       one line per request; the functions' own logs: errors only (--verbose, VERBOSE=1)")
    lines += [
        "  token      make token SUB=alice ROLES=operator TENANT=acme",
        f'             curl -H "Authorization: Bearer $(make -s token ROLES=viewer)" {url}/interventions',
        "Ctrl-C stops.",
    ]
    print("\n".join(lines), flush=True)


def _served_lines(runtime: LocalRuntime, startup: Startup) -> list[str]:
    """The banner's routes, queues, schedules, functions, settings and warnings."""
    lines = ["  routes     (a token is needed unless marked)"]
    for function in runtime.functions.values():
        for route in function.spec.routes:
            auth = "  (no auth)" if route.route_key in function.spec.public_routes else ""
            lines.append(f"    {route.method:<7}{route.path:<38}{function.name}{auth}")
    for poller in runtime.queue_pollers:
        source = poller.source
        lines.append(f"  queue      {source.queue_name} -> {source.function.name} (batch {source.batch_size})")
    for stream in runtime.stream_pollers:
        source = stream.source
        filtered = f", {len(source.filters)} filter(s)" if source.filters else ""
        lines.append(
            f"  stream     {source.table_id} -> {source.function.name} (batch {source.batch_size}{filtered};"
            " position kept across restarts)"
        )
    for target in runtime.target_pollers:
        lines.append(f"  rule       {target.source.rule_id} -> {target.source.function.name} (function target)")
    for runner in runtime.schedules:
        schedule = runner.source
        lines.append(
            f"  schedule   {schedule.function.name} every {schedule.interval_seconds:g} s ({schedule.expression})"
        )
    lines += [f"  not run    {note}" for note in startup.skipped_schedules]
    lines.append(
        f"  functions  {len(runtime.functions)}, each in processes of its own as in Lambda: one process serves one"
        " request at a time, another starts (a cold start) when all are busy"
    )
    total = len(runtime.functions)
    for override in startup.overrides:
        where = "every function" if len(override.functions) == total else ", ".join(override.functions)
        lines.append(f"  setting    {override.name}={override.value}  (from {override.source}; {where})")
    lines += [f"  warning    {warning}" for warning in startup.warnings]
    return lines
