"""The operator console's Lambda handler: serves the files of this folder at
`/console/`, with no token (they hold no data; every API call the page makes
carries the signed-in user's token).

Everything is computed once per cold start, so that a request is a lookup in
a dictionary: each file's bytes, gzip form, ETag and content type; the
fingerprinted URL of each asset (`assets/app.js` -> `assets/app.<hash10>.js`,
cached for a year: a new content is a new URL); `index.html` with those URLs
and an import map that sends each module's plain URL to its fingerprinted one
(so the modules keep plain relative imports); the Content-Security-Policy,
which allows that one inline script by its hash; `/console/config.json` from
the function's environment.

Only files found in the folder at cold start are served, by exact path:
nothing a request says can reach another file (`..`, encoded or not, absolute
paths, symlinks and this file are never in the table). The console routes by
`location.hash`, so an unknown path is a 404, never index.html.

Standard library only, no layer: the cold start stays small and the API
functions' cold start is not touched.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import os
import re
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

ROOT = Path(__file__).resolve().parent
MOUNT = "/console"
ASSETS = "assets/"
INDEX = "index.html"
CONFIG = "config.json"
HASH_LENGTH = 10
# Under this, gzip saves less than a round trip is worth.
GZIP_MIN_BYTES = 1024

# Only these extensions are served: a file of any other kind in the folder
# (this module, notes, editor files) is not part of the console.
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".webp": "image/webp",
    ".woff2": "font/woff2",
    ".txt": "text/plain; charset=utf-8",
    ".webmanifest": "application/manifest+json",
}
_COMPRESSIBLE = ("text/", "application/json", "image/svg+xml", "application/manifest+json")
_MODULE_TYPE = "text/javascript; charset=utf-8"

IMMUTABLE = "public, max-age=31536000, immutable"  # a fingerprinted URL never changes content
REVALIDATE = "no-cache"  # a plain URL: kept, but checked with If-None-Match every time
NO_STORE = "no-store"  # index.html and config.json: always the deployed ones

SIGN_IN_MODES = ("local", "cognito", "oidc")
SCOPES = ["openid", "email", "profile"]

# A reference to an asset in an attribute of index.html: src="assets/app.js",
# href='./assets/console.css?v=1', src="/console/assets/x.js".
_REFERENCE = re.compile(r"""(?P<attribute>\b(?:src|href)\s*=\s*)(?P<quote>["'])(?P<url>[^"'<>]*)(?P=quote)""", re.I)
_SUFFIX = re.compile(r"([^?#]*)(.*)", re.S)  # a URL's path, and its query and fragment
# The import map must come before anything that loads a module.
_IMPORT_MAP_PLACE = re.compile(r"<script\b|<link\b[^>]*\bmodulepreload\b|</head\s*>", re.I)
# What a served path may consist of: no `..` segment, no empty one, no backslash.
_SAFE_SEGMENT = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.@+-]*")


class SignInNotConfigured(ValueError):
    """The environment does not say how users sign in (the message says what to set)."""


@dataclass(frozen=True)
class Representation:
    """One response body, ready to return: as text when it is UTF-8, else base64."""

    body: str
    is_base64: bool
    length: int
    etag: str

    @classmethod
    def of(cls, data: bytes, etag: str, binary: bool) -> Representation:
        if binary:
            return cls(base64.b64encode(data).decode("ascii"), True, len(data), etag)
        return cls(data.decode("utf-8"), False, len(data), etag)


@dataclass(frozen=True)
class Resource:
    """A file as served: its headers and its plain and (for text) gzip forms."""

    content_type: str
    cache_control: str
    identity: Representation
    gzipped: Representation | None = None

    @classmethod
    def of(cls, data: bytes, content_type: str, cache_control: str) -> Resource:
        digest = hashlib.sha256(data).hexdigest()[:20]
        compressible = content_type.startswith(_COMPRESSIBLE)
        binary = not compressible
        if not binary:
            try:
                data.decode("utf-8")
            except UnicodeDecodeError:
                binary = True
        gzipped = None
        if compressible and len(data) >= GZIP_MIN_BYTES:
            # mtime=0: the same bytes on every cold start, so the ETag holds across environments.
            packed = gzip.compress(data, compresslevel=9, mtime=0)
            if len(packed) < len(data):
                gzipped = Representation.of(packed, f'"{digest}-gzip"', binary=True)
        return cls(content_type, cache_control, Representation.of(data, f'"{digest}"', binary), gzipped)


@dataclass
class Console:
    """The console as served by one execution environment."""

    files: dict[str, Resource] = field(default_factory=dict)  # by path under /console/, plain and fingerprinted
    fingerprinted: dict[str, str] = field(default_factory=dict)  # plain asset path -> fingerprinted path
    import_map: str = ""
    security_headers: dict[str, str] = field(default_factory=dict)
    sign_in: str = ""
    config_error: str | None = None

    # ------------------------------------------------------------ cold start
    @classmethod
    def load(cls, root: Path, environ: Mapping[str, str]) -> Console:
        """Read the folder and the environment once."""
        console = cls()
        found = _console_files(root)
        for path, data in sorted(found.items()):
            content_type = CONTENT_TYPES[Path(path).suffix.lower()]
            plain = console.files[path] = Resource.of(data, content_type, REVALIDATE)
            if path.startswith(ASSETS):
                stem, _, extension = path.rpartition(".")  # every served file has an extension
                hashed = f"{stem}.{hashlib.sha256(data).hexdigest()[:HASH_LENGTH]}.{extension}"
                console.fingerprinted[path] = hashed
                console.files.setdefault(hashed, replace(plain, cache_control=IMMUTABLE))
        modules = {
            f"./{plain}": f"./{hashed}"
            for plain, hashed in sorted(console.fingerprinted.items())
            if console.files[plain].content_type == _MODULE_TYPE
        }
        console.import_map = json.dumps({"imports": modules}, indent=1, sort_keys=True)
        try:
            config, origins = sign_in_config(environ)
        except SignInNotConfigured as error:
            config, origins = None, []
            console.config_error = str(error)
        console.sign_in = config["sign_in"] if config else "unconfigured"
        console.security_headers = security_headers(console.import_map, origins)
        if INDEX in found:
            page = console.index_page(found[INDEX].decode("utf-8"))
            console.files[INDEX] = Resource.of(page.encode("utf-8"), CONTENT_TYPES[".html"], NO_STORE)
        else:
            console.files.pop(INDEX, None)
        if config is not None:
            text = json.dumps(config, indent=1, sort_keys=True)
            console.files[CONFIG] = Resource.of(text.encode("utf-8"), CONTENT_TYPES[".json"], NO_STORE)
        else:
            console.files.pop(CONFIG, None)
        return console

    def index_page(self, html: str) -> str:
        """index.html with every asset reference fingerprinted and the import
        map before the first script (a module may only load after it)."""

        def fingerprint(match: re.Match[str]) -> str:
            url = match.group("url")
            for prefix in ("./", f"{MOUNT}/", ""):
                if url.startswith(prefix + ASSETS):
                    path, tail = _SUFFIX.fullmatch(url[len(prefix) :]).groups()  # type: ignore[union-attr]
                    hashed = self.fingerprinted.get(path)
                    if hashed is None:
                        return match.group(0)
                    quote = match.group("quote")
                    return f"{match.group('attribute')}{quote}{prefix}{hashed}{tail}{quote}"
            return match.group(0)

        html = _REFERENCE.sub(fingerprint, html)
        tag = f'<script type="importmap">{self.import_map}</script>\n'
        at = _IMPORT_MAP_PLACE.search(html)
        position = at.start() if at else 0
        return html[:position] + tag + html[position:]

    # ------------------------------------------------------------ requests
    def respond(self, event: Mapping[str, Any]) -> dict[str, Any]:
        context = event.get("requestContext") or {}
        method = str((context.get("http") or {}).get("method") or "GET").upper()
        raw_path = str(event.get("rawPath") or (context.get("http") or {}).get("path") or "/")
        headers = {str(name).lower(): str(value) for name, value in (event.get("headers") or {}).items()}
        if method not in ("GET", "HEAD"):
            return self._error(405, "method_not_allowed", "The console answers GET and HEAD", {"Allow": "GET, HEAD"})
        path = unquote(raw_path)
        if path in ("/", MOUNT):
            # The query goes along: a sign-in callback set to /console still gets its ?code=.
            query = event.get("rawQueryString") or ""
            return self._redirect(302 if path == "/" else 301, f"{MOUNT}/" + (f"?{query}" if query else ""))
        if not path.startswith(f"{MOUNT}/"):
            return self._not_found()
        relative = path[len(MOUNT) + 1 :] or INDEX
        if relative == CONFIG and self.config_error is not None:
            message = f"The console's sign-in is not configured: {self.config_error}"
            return self._error(500, "internal_error", message)
        resource = self.files.get(relative) if _is_safe(relative) else None
        if resource is None:
            return self._not_found()
        return self._file(resource, method, headers)

    def _file(self, resource: Resource, method: str, headers: Mapping[str, str]) -> dict[str, Any]:
        chosen = resource.identity
        response_headers = {
            **self.security_headers,
            "Content-Type": resource.content_type,
            "Cache-Control": resource.cache_control,
        }
        if resource.gzipped is not None:
            response_headers["Vary"] = "Accept-Encoding"
            if _accepts_gzip(headers.get("accept-encoding", "")):
                chosen = resource.gzipped
                response_headers["Content-Encoding"] = "gzip"
        response_headers["ETag"] = chosen.etag
        if _matches(headers.get("if-none-match"), chosen.etag):
            response_headers.pop("Content-Type")
            response_headers.pop("Content-Encoding", None)
            return {"statusCode": 304, "headers": response_headers, "body": "", "isBase64Encoded": False}
        if method == "HEAD":
            response_headers["Content-Length"] = str(chosen.length)
            return {"statusCode": 200, "headers": response_headers, "body": "", "isBase64Encoded": False}
        return {
            "statusCode": 200,
            "headers": response_headers,
            "body": chosen.body,
            "isBase64Encoded": chosen.is_base64,
        }

    def _redirect(self, status: int, location: str) -> dict[str, Any]:
        headers = {**self.security_headers, "Location": location}
        return {"statusCode": status, "headers": headers, "body": "", "isBase64Encoded": False}

    def _not_found(self) -> dict[str, Any]:
        # The path is not echoed: it is the caller's input.
        return self._error(404, "not_found", "No console file at that path")

    def _error(self, status: int, code: str, message: str, extra: Mapping[str, str] | None = None) -> dict[str, Any]:
        headers = {**self.security_headers, "Content-Type": "application/json", "Cache-Control": NO_STORE}
        headers.update(extra or {})
        body = json.dumps({"code": code, "message": message})
        return {"statusCode": status, "headers": headers, "body": body, "isBase64Encoded": False}


# ---------------------------------------------------------------- the folder
def _console_files(root: Path) -> dict[str, bytes]:
    """Every servable file under root, by its path relative to it: regular
    files of a known type, no symlink (to a file or a folder), no hidden
    file or folder, not this module."""
    found: dict[str, bytes] = {}
    this_file = Path(__file__).resolve()
    for folder, folders, names in os.walk(root, followlinks=False):
        here = Path(folder)
        folders[:] = sorted(
            name for name in folders if _SAFE_SEGMENT.fullmatch(name) and not (here / name).is_symlink()
        )
        for name in sorted(names):
            path = here / name
            if not _SAFE_SEGMENT.fullmatch(name) or path.suffix.lower() not in CONTENT_TYPES:
                continue
            if path.is_symlink() or not path.is_file() or path.resolve() == this_file:
                continue
            found[path.relative_to(root).as_posix()] = path.read_bytes()
    return found


def _is_safe(relative: str) -> bool:
    return all(_SAFE_SEGMENT.fullmatch(segment) for segment in relative.split("/"))


# ---------------------------------------------------------------- sign-in
def _origin(url: str, variable: str) -> str:
    """scheme://host[:port] of an https URL (http only on the loopback, for
    trying a provider locally)."""
    parts = urlsplit(url)
    loopback = parts.hostname in ("localhost", "127.0.0.1", "::1")
    if not parts.netloc or not (parts.scheme == "https" or (parts.scheme == "http" and loopback)):
        raise SignInNotConfigured(f"{variable} must be an https URL, not {url!r}")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise SignInNotConfigured(f"{variable} must be a plain https URL, not {url!r}")
    return f"{parts.scheme}://{parts.netloc}"


def _required(environ: Mapping[str, str], variable: str, hint: str) -> str:
    value = environ.get(variable, "").strip()
    if not value or not re.fullmatch(r"[^\s\"'<>\\]+", value):
        raise SignInNotConfigured(f"{variable} is {'empty' if not value else 'not a valid value'} ({hint})")
    return value


def sign_in_config(environ: Mapping[str, str]) -> tuple[dict[str, Any], list[str]]:
    """(config.json, the identity provider's origins the page may call):
    CONSOLE_SIGN_IN says how users sign in; `local` is the local runtime's
    form, `cognito` the user pool's hosted UI, `oidc` another provider found
    by its discovery document."""
    mode = environ.get("CONSOLE_SIGN_IN", "")
    if mode not in SIGN_IN_MODES:
        raise SignInNotConfigured(f"CONSOLE_SIGN_IN is {mode!r}, expected one of {', '.join(SIGN_IN_MODES)}")
    config: dict[str, Any] = {"sign_in": mode, "api": ""}  # the API is on this origin
    if mode == "cognito":
        domain = _required(
            environ, "COGNITO_DOMAIN", "the user pool domain, https://<prefix>.auth.<region>.amazoncognito.com"
        )
        origin = _origin(domain, "COGNITO_DOMAIN")
        client_id = _required(environ, "COGNITO_CLIENT_ID", "the user pool app client's id")
        config["cognito"] = {"domain": domain.rstrip("/"), "client_id": client_id, "scopes": list(SCOPES)}
        return config, [origin]
    if mode == "oidc":
        issuer = _required(environ, "OIDC_ISSUER", "the identity provider's issuer URL: the JwtIssuer parameter")
        origin = _origin(issuer, "OIDC_ISSUER")
        client_id = _required(environ, "OIDC_CLIENT_ID", "the console's client id there: the first of JwtAudience")
        config["oidc"] = {"issuer": issuer.rstrip("/"), "client_id": client_id, "scopes": list(SCOPES)}
        return config, [origin]
    return config, []


def security_headers(import_map: str, idp_origins: list[str]) -> dict[str, str]:
    """The headers of every console response. Scripts: this origin's files
    and the import map, by the hash of its exact text; no inline script, no
    inline style. The identity provider's origin may be fetched (the token
    exchange, the discovery document) and submitted to."""
    digest = base64.b64encode(hashlib.sha256(import_map.encode("utf-8")).digest()).decode("ascii")
    others = "".join(f" {origin}" for origin in dict.fromkeys(idp_origins))
    policy = "; ".join(
        [
            "default-src 'self'",
            f"script-src 'self' 'sha256-{digest}'",
            "style-src 'self'",
            "img-src 'self' data:",
            f"connect-src 'self'{others}",
            "object-src 'none'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
            f"form-action 'self'{others}",
        ]
    )
    return {
        "Content-Security-Policy": policy,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "X-Frame-Options": "DENY",
    }


# ---------------------------------------------------------------- HTTP details
def _accepts_gzip(accept_encoding: str) -> bool:
    for entry in accept_encoding.split(","):
        name, _, parameters = entry.strip().partition(";")
        if name.strip().lower() in ("gzip", "*"):
            quality = re.search(r"q\s*=\s*([0-9.]+)", parameters)
            return not (quality and float(quality.group(1) or 0) == 0)
    return False


def _matches(if_none_match: str | None, etag: str) -> bool:
    """If-None-Match's weak comparison (RFC 9110 13.1.2)."""
    if not if_none_match:
        return False
    tags = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
    return "*" in tags or etag in tags


# ---------------------------------------------------------------- the handler
def _cold_start() -> Console:
    started = time.perf_counter()
    console = Console.load(ROOT, os.environ)
    line = {
        "level": "ERROR" if console.config_error else "INFO",
        "message": console.config_error or "console ready",
        "service": "console",
        "assets": len(console.fingerprinted),
        "sign_in": console.sign_in,
        "cold_start_ms": round((time.perf_counter() - started) * 1000, 1),
    }
    print(json.dumps(line), file=sys.stdout, flush=True)
    return console


CONSOLE = _cold_start()


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The Lambda entry point (HTTP API payload v2)."""
    return CONSOLE.respond(event)
