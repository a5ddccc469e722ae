"""python -m local_runtime serve | token (see `make run`, `make token`)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from local_runtime.template import ROOT, TEMPLATE
from local_runtime.tokens import BadTokenRequest, jwt_secret, mint_token


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m local_runtime", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    _serve_arguments(commands.add_parser("serve", help="serve the API with emulated AWS"))
    _token_arguments(commands.add_parser("token", help="print a JWT the local runtime accepts (make token)"))
    openapi = commands.add_parser("openapi", help="write docs/openapi.json from the functions' routes")
    openapi.add_argument("--check", action="store_true", help="only check that the copies are current")
    return parser


def _serve_arguments(serve: argparse.ArgumentParser) -> None:
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


def _token_arguments(token: argparse.ArgumentParser) -> None:
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
    # Imported for `serve` only: its modules load moto and werkzeug, 650 ms
    # that `make token` does without (measured).
    from local_runtime.serve_command import serve

    return serve(args)


if __name__ == "__main__":
    sys.exit(main())
