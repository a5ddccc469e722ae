"""python -m local_runtime serve | token (see `make run`, `make token`)."""

from __future__ import annotations

import argparse
import logging
import os
import re
import signal
import sys
import threading
import warnings
from pathlib import Path

from local_runtime.persistence import RestoreFailed
from local_runtime.runtime import LocalRuntime, RuntimeConfig, Startup
from local_runtime.server import PortUnavailable
from local_runtime.template import ROOT, TEMPLATE
from local_runtime.tokens import issue_token, jwt_secret


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m local_runtime", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="serve the API with emulated AWS")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument(
        "--port", type=int, default=int(os.environ.get("PORT") or 3000), help="env PORT; 0 picks a free one"
    )
    serve.add_argument(
        "--template",
        type=Path,
        default=Path(os.environ.get("OVERSIGHT_LOCAL_TEMPLATE") or TEMPLATE),
        help="SAM template to serve (env OVERSIGHT_LOCAL_TEMPLATE)",
    )
    serve.add_argument(
        "--state-dir",
        type=Path,
        default=Path(os.environ.get("OVERSIGHT_LOCAL_STATE_DIR") or ROOT / ".oversight"),
        help="where the data is kept (env OVERSIGHT_LOCAL_STATE_DIR)",
    )

    token = commands.add_parser("token", help="print a JWT the local runtime accepts")
    token.add_argument("--sub", required=True)
    token.add_argument("--roles", default="", help="comma- or space-separated, e.g. operator,requester")
    token.add_argument("--tenant", default="acme")

    openapi = commands.add_parser("openapi", help="write docs/openapi.json from the functions' routes")
    openapi.add_argument("--check", action="store_true", help="only check that the copies are current")
    return parser


def _print_banner(runtime: LocalRuntime, startup: Startup) -> None:
    url = runtime.url
    lines = [
        f"Oversight local runtime: {url}",
        f"  template   {runtime.template.path}",
        f"  state      {runtime.config.state_dir}  (restored "
        + ", ".join(f"{count} {kind}" for kind, count in startup.restored.items())
        + ")",
        f"  AWS (moto) {runtime.aws.endpoint}",
        "  routes",
    ]
    for function in runtime.functions.values():
        for route in function.spec.routes:
            auth = "  (no auth)" if route.route_key in function.spec.public_routes else ""
            lines.append(f"    {route.method:<7}{route.path:<38}{function.name}{auth}")
    for poller in runtime.queue_pollers:
        source = poller.source
        lines.append(f"  queue      {source.queue_name} -> {source.function.name} (batch {source.batch_size})")
    for runner in runtime.schedules:
        source = runner.source
        lines.append(f"  schedule   {source.function.name} every {source.interval_seconds:g} s ({source.expression})")
    for note in startup.skipped_schedules:
        lines.append(f"  not run    {note}")
    if startup.not_shared:
        lines.append(f"  per-function values not applied (one process): {', '.join(startup.not_shared)}")
    lines += [
        "  token      make token SUB=alice ROLES=operator TENANT=acme",
        f'             curl -H "Authorization: Bearer $(make -s token ROLES=viewer)" {url}/interventions',
        "Ctrl-C stops.",
    ]
    print("\n".join(lines), flush=True)


def serve(args: argparse.Namespace) -> int:
    # Powertools warns after each invocation that emitted no metric.
    warnings.filterwarnings("ignore", "No application metrics to publish")
    stop = threading.Event()

    def request_stop(signum: int, _frame: object) -> None:
        if stop.is_set():
            os._exit(128 + signum)  # asked twice: leave now (the last snapshot is intact)
        stop.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)

    schedule_seconds = os.environ.get("OVERSIGHT_LOCAL_SCHEDULE_SECONDS")
    config = RuntimeConfig(
        template=args.template,
        state_dir=args.state_dir.resolve(),
        host=args.host,
        port=args.port,
        jwt_secret=jwt_secret(),
        schedule_seconds=float(schedule_seconds) if schedule_seconds else None,
    )
    runtime = LocalRuntime(config)
    try:
        startup = runtime.start()
    except RestoreFailed as error:
        print(f"{error}\n`make reset` wipes the local state.", file=sys.stderr)
        return 1
    except PortUnavailable as error:
        print(f"{error} (PORT=... picks another)", file=sys.stderr)
        return 1
    _print_banner(runtime, startup)
    stop.wait()
    print("stopping...", flush=True)
    runtime.stop()
    print("stopped; state saved.", flush=True)
    return 0


def token(args: argparse.Namespace) -> int:
    roles = [role for role in re.split(r"[\s,]+", args.roles) if role]
    print(issue_token(args.sub, roles, args.tenant or None, jwt_secret()))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "token":
        return token(args)
    if args.command == "openapi":
        from local_runtime.openapi import main as openapi

        return openapi(check=args.check)
    # Piped output (CI, tests) would otherwise arrive in blocks.
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    runtime_log = logging.getLogger("local_runtime")
    runtime_log.addHandler(handler)
    runtime_log.setLevel(logging.INFO)
    runtime_log.propagate = False
    return serve(args)


if __name__ == "__main__":
    sys.exit(main())
