"""python -m local_runtime serve | token (see `make run`, `make token`)."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from local_runtime.state_lock import hold_state_dir_or_exit
from local_runtime.template import ROOT, TEMPLATE
from local_runtime.tokens import BadTokenRequest, jwt_secret, mint_token

if TYPE_CHECKING:  # `serve` imports them: `make token` need not load moto
    from local_runtime.runtime import LocalRuntime, Startup


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
    serve.add_argument(
        "--env-vars",
        type=Path,
        default=Path(os.environ["OVERSIGHT_LOCAL_ENV_VARS"]) if os.environ.get("OVERSIGHT_LOCAL_ENV_VARS") else None,
        help="an env.json in the `sam local --env-vars` format (env OVERSIGHT_LOCAL_ENV_VARS); the shell still wins",
    )
    serve.add_argument(
        "--verbose",
        action="store_true",
        default=os.environ.get("VERBOSE", "") not in ("", "0", "false"),
        help="print every log line of the functions, not only errors (env VERBOSE=1, or LOG_LEVEL=...)",
    )

    token = commands.add_parser("token", help="print a JWT the local runtime accepts (make token)")
    token.add_argument("--sub", default="alice", help="the user (make token SUB=...)")
    token.add_argument(
        "--roles",
        default="admin",
        help="comma- or space-separated, of admin, operator, requester, viewer (ROLES=...)",
    )
    token.add_argument("--tenant", default="acme", help="(TENANT=...)")
    token.add_argument("--ttl", help="lifetime in seconds, a positive integer; default 12 h (TTL=...)")
    token.add_argument(
        "--expired",
        nargs="?",
        const="1",
        default="0",
        help="a token that expired a minute ago, to see the authorizer's 401 (EXPIRED=1)",
    )

    openapi = commands.add_parser("openapi", help="write docs/openapi.json from the functions' routes")
    openapi.add_argument("--check", action="store_true", help="only check that the copies are current")
    return parser


def _print_banner(runtime: LocalRuntime, startup: Startup) -> None:
    url = runtime.url
    restored = ", ".join(f"{count} {kind}" for kind, count in startup.restored.items())
    console = any(route.path.startswith("/console") for f in runtime.functions.values() for route in f.spec.routes)
    lines = [
        f"Oversight local runtime: {url}",
        *([f"  console    {url}/console/  (sign in with the local form: user, roles, tenant)"] if console else []),
        f"  template   {runtime.template.path}  (every route, function, table, queue and schedule comes from it)",
        f"  data       {runtime.config.state_dir}  (restored {restored}; kept across restarts, `make reset` wipes it)",
        f"  AWS        DynamoDB, SQS and S3 emulated by moto at {runtime.aws.endpoint}: no AWS account is used",
        f"  S3         {runtime.s3_endpoint}  (presigned URLs of job outputs point here: valid across restarts)",
        "  routes     (a token is needed unless marked)",
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
    lines.append(
        f"  functions  {len(runtime.functions)}, each in processes of its own as in Lambda: one process serves one"
        " request at a time, another starts (a cold start) when all are busy"
    )
    total = len(runtime.functions)
    for override in startup.overrides:
        where = "every function" if len(override.functions) == total else ", ".join(override.functions)
        lines.append(f"  setting    {override.name}={override.value}  (from {override.source}; {where})")
    for warning in startup.warnings:
        lines.append(f"  warning    {warning}")
    if not runtime.config.verbose:
        lines.append("  logs       one line per request; the functions' own logs: errors only (--verbose, VERBOSE=1)")
    lines += [
        "  token      make token SUB=alice ROLES=operator TENANT=acme",
        f'             curl -H "Authorization: Bearer $(make -s token ROLES=viewer)" {url}/interventions',
        "Ctrl-C stops.",
    ]
    print("\n".join(lines), flush=True)


def serve(args: argparse.Namespace) -> int:
    from local_runtime.emulation import UntestedMoto
    from local_runtime.invocation import DEFAULT_MAX_ENVIRONMENTS
    from local_runtime.persistence import RestoreFailed
    from local_runtime.runtime import LocalRuntime, RuntimeConfig, StartFailed
    from local_runtime.server import PortUnavailable

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
        env_file=args.env_vars,
        max_environments=int(os.environ.get("OVERSIGHT_LOCAL_MAX_ENVIRONMENTS") or DEFAULT_MAX_ENVIRONMENTS),
        verbose=args.verbose or "LOG_LEVEL" in os.environ,
    )
    hold_state_dir_or_exit(config.state_dir, f"http://{config.host}:{config.port}" if config.port else None)
    runtime = LocalRuntime(config)
    try:
        startup = runtime.start()
    except RestoreFailed as error:
        print(f"{error}\n`make reset` wipes the local state.", file=sys.stderr)
        return 1
    except PortUnavailable as error:
        print(f"{error} (PORT=... picks another)", file=sys.stderr)
        return 1
    except StartFailed as error:
        runtime.stop()
        print(f"cannot start: {error}", file=sys.stderr)
        return 1
    except UntestedMoto as error:
        print(error, file=sys.stderr)
        return 1
    _print_banner(runtime, startup)
    stop.wait()
    print("stopping...", flush=True)
    runtime.stop()
    print("stopped; state saved.", flush=True)
    return 0


def token(args: argparse.Namespace) -> int:
    """The token alone on stdout (`$(make -s token)`); a refusal on stderr, exit 2."""
    try:
        minted = mint_token(
            sub=args.sub, roles=args.roles, tenant=args.tenant, ttl=args.ttl, expired=args.expired, secret=jwt_secret()
        )
    except BadTokenRequest as error:
        print(f"token refused: {error}", file=sys.stderr)
        return 2
    print(minted)
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
