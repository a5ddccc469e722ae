"""The emulated S3 at a stable address, and S3's refusal of requests that
are not signed.

moto's server listens on a port of its own choosing, different on every
start, so a presigned URL that pointed at it broke on the next restart. S3
is therefore also served at a path of the API's own address
(`http://127.0.0.1:3000/_aws/s3`, `S3_PATH`): the functions' SDK is given
that endpoint (`AWS_ENDPOINT_URL_S3`), botocore keeps the path prefix in
path-style requests and presigned URLs alike and signs the prefixed path,
and the API server hands those requests to moto's WSGI application in its
own process, the prefix stripped. A URL stays valid across restarts on the
same port until it expires: the signing secret is the fixed local one, and
the objects are restored from the snapshot.

moto itself answers anyone: an unsigned `GET /<bucket>` lists every
tenant's keys, and a presigned URL is served whatever its signature, so a
key of another tenant substituted into a URL downloads that tenant's file.
`SignedRequestsOnly` answers as S3 does instead, on the stable address and
on moto's own port alike: an unsigned request is a 403 `AccessDenied`; a
presigned (SigV4 query) URL must carry a valid signature over its method,
path, query and signed headers, made with the local secret, and be
unexpired (SigV2 query URLs, which boto3 makes by default for a client
without `signature_version="s3v4"`, are checked likewise). Requests
signed in the `Authorization` header (the SDK's own
calls) are passed on without checking their signature: anyone holding the
local fake credentials (`testing`, which are public) is an administrator of
the emulator, as anyone holding real credentials would be of an account.
What this protects is what a presigned URL grants: one object, for one
method, until it expires.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, unquote, urlsplit
from xml.sax.saxutils import escape

from werkzeug.datastructures import EnvironHeaders
from werkzeug.wrappers import Response

log = logging.getLogger(__name__)

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

# Where the API's own address serves S3. API Gateway would answer 404 here;
# no template route starts with it.
S3_PATH = "/_aws/s3"
_ALGORITHM = "AWS4-HMAC-SHA256"
_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
# S3 refuses a presigned URL valid for longer than a week.
_MAX_EXPIRES_SECONDS = 7 * 24 * 3600
_QUERY_AUTH = (
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Signature",
    "X-Amz-Date",
    "X-Amz-SignedHeaders",
    "X-Amz-Expires",
)
_UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
# The query parameters a SigV2 signature covers (botocore's list, as S3's).
_V2_SUBRESOURCES = frozenset(
    {
        "accelerate",
        "acl",
        "analytics",
        "cors",
        "defaultObjectAcl",
        "delete",
        "inventory",
        "lifecycle",
        "location",
        "logging",
        "metrics",
        "notification",
        "object-lock",
        "partNumber",
        "policy",
        "replication",
        "requestPayment",
        "response-cache-control",
        "response-content-disposition",
        "response-content-encoding",
        "response-content-language",
        "response-content-type",
        "response-expires",
        "restore",
        "select",
        "select-type",
        "storageClass",
        "tagging",
        "torrent",
        "uploadId",
        "uploads",
        "versionId",
        "versioning",
        "versions",
        "website",
    }
)


def is_s3_path(path: str) -> bool:
    return path == S3_PATH or path.startswith(S3_PATH + "/")


class Refused(Exception):
    """A request S3 would refuse: its status, code, message and the extra
    elements S3 puts in its error document."""

    def __init__(self, status: int, code: str, message: str, **details: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details


class SignedRequestsOnly:
    """WSGI middleware: passes on requests signed in the Authorization
    header, and presigned (SigV4 query) requests signed with the local
    secret and unexpired; refuses everything else as S3 does."""

    def __init__(
        self, app: WsgiApp, credentials: Mapping[str, str], clock: Callable[[], float] = time.time, mount: str = ""
    ) -> None:
        """`credentials` as the SDK reads them: AWS_ACCESS_KEY_ID and
        AWS_SECRET_ACCESS_KEY, the pair the local clients sign with. `mount`:
        the path S3 is served under, which SigV4 signs (it is part of the
        endpoint) and SigV2 does not (it signs `/bucket/key`)."""
        self.app = app
        self.secret_keys = {credentials["AWS_ACCESS_KEY_ID"]: credentials["AWS_SECRET_ACCESS_KEY"]}
        self.clock = clock
        self.mount = mount

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        try:
            self.check(environ)
        except Refused as refused:
            method, path = environ.get("REQUEST_METHOD"), _raw_path(environ)
            log.info("S3 %s %s refused: %d %s", method, path, refused.status, refused.code)
            return error_document(refused)(environ, start_response)
        return self.app(environ, start_response)

    def check(self, environ: dict[str, Any]) -> None:
        """Raises Refused for a request S3 would not serve."""
        if environ.get("HTTP_AUTHORIZATION"):
            return
        query = _query_pairs(environ.get("QUERY_STRING", ""))
        names = {name for name, _ in query}
        if "X-Amz-Signature" in names or "X-Amz-Credential" in names or "X-Amz-Algorithm" in names:
            self._check_presigned(environ, query)
            return
        if "Signature" in names or "AWSAccessKeyId" in names:
            self._check_presigned_v2(environ, query)
            return
        raise _denied("Access Denied")

    def _check_presigned_v2(self, environ: dict[str, Any], query: list[tuple[str, str]]) -> None:
        params = dict(query)
        if any(name not in params for name in ("AWSAccessKeyId", "Signature", "Expires")):
            raise _denied("Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters")
        access_key = params["AWSAccessKeyId"]
        secret = self._secret(access_key)
        to_sign = string_to_sign_v2(environ, query, self.mount)
        digest = hmac.new(secret.encode("utf-8"), to_sign.encode("utf-8"), hashlib.sha1).digest()
        if not hmac.compare_digest(base64.b64encode(digest).decode(), params["Signature"]):
            raise _mismatch(access_key, to_sign, params["Signature"])
        if not params["Expires"].isdigit():
            raise _denied("Invalid date (should be seconds since epoch)")
        now, expiry = self.clock(), int(params["Expires"])
        if now > expiry:
            raise _denied("Request has expired", Expires=_iso(expiry), ServerTime=_iso(now))

    def _check_presigned(self, environ: dict[str, Any], query: list[tuple[str, str]]) -> None:
        params = dict(query)
        if any(name not in params for name in _QUERY_AUTH):
            raise _bad_query(
                "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, "
                "X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters."
            )
        if params["X-Amz-Algorithm"] != _ALGORITHM:
            raise _bad_query(f'X-Amz-Algorithm only supports "{_ALGORITHM}"')
        access_key, _, scope = params["X-Amz-Credential"].partition("/")
        scope_parts = scope.split("/")
        if len(scope_parts) != 4 or scope_parts[3] != "aws4_request":
            raise _bad_query("Error parsing the X-Amz-Credential parameter")
        secret = self._secret(access_key)
        try:
            signed_at = datetime.strptime(params["X-Amz-Date"], _DATE_FORMAT).replace(tzinfo=UTC)
        except ValueError:
            raise _bad_query("X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"") from None
        expires = params["X-Amz-Expires"]
        if not expires.isdigit():
            raise _bad_query("X-Amz-Expires should be a number")
        if int(expires) > _MAX_EXPIRES_SECONDS:
            raise _bad_query(f"X-Amz-Expires must be less than a week (in seconds) that is {_MAX_EXPIRES_SECONDS}")

        canonical = canonical_request(environ, query, params["X-Amz-SignedHeaders"])
        digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
        to_sign = "\n".join([_ALGORITHM, params["X-Amz-Date"], scope, digest])
        if not hmac.compare_digest(signature(secret, scope_parts, to_sign), params["X-Amz-Signature"]):
            raise _mismatch(access_key, to_sign, params["X-Amz-Signature"], CanonicalRequest=canonical)

        now, expiry = self.clock(), signed_at.timestamp() + int(expires)
        if now > expiry:
            details = {"X-Amz-Expires": expires, "Expires": _iso(expiry), "ServerTime": _iso(now)}
            raise _denied("Request has expired", **details)

    def _secret(self, access_key: str) -> str:
        secret = self.secret_keys.get(access_key)
        if secret is None:
            message = "The AWS Access Key Id you provided does not exist in our records."
            raise Refused(403, "InvalidAccessKeyId", message, AWSAccessKeyId=access_key)
        return secret


def _denied(message: str, **details: str) -> Refused:
    return Refused(403, "AccessDenied", message, **details)


def _bad_query(message: str) -> Refused:
    return Refused(400, "AuthorizationQueryParametersError", message)


def _mismatch(access_key: str, to_sign: str, provided: str, **details: str) -> Refused:
    message = (
        "The request signature we calculated does not match the signature you provided. "
        "Check your key and signing method."
    )
    return Refused(
        403,
        "SignatureDoesNotMatch",
        message,
        AWSAccessKeyId=access_key,
        StringToSign=to_sign,
        SignatureProvided=provided,
        **details,
    )


def canonical_request(environ: dict[str, Any], query: list[tuple[str, str]], signed_headers: str) -> str:
    """SigV4's canonical request of a presigned S3 request, as S3 computes
    it: the path as it was sent (S3 does not normalise it), every query
    parameter but the signature, encoded again and sorted, the signed
    headers' trimmed values, and no payload hash."""
    encoded = sorted(
        (quote(name, safe="-_.~"), quote(value, safe="-_.~")) for name, value in query if name != "X-Amz-Signature"
    )
    names = [name for name in signed_headers.lower().split(";") if name]
    headers = "".join(f"{name}:{_header(environ, name)}\n" for name in names)
    return "\n".join(
        [
            environ.get("REQUEST_METHOD", "GET"),
            _raw_path(environ),
            "&".join(f"{name}={value}" for name, value in encoded),
            headers,
            ";".join(names),
            _UNSIGNED_PAYLOAD,
        ]
    )


def string_to_sign_v2(environ: dict[str, Any], query: list[tuple[str, str]], mount: str = "") -> str:
    """SigV2's string to sign of a presigned S3 request: method, Content-MD5,
    Content-Type, Expires, the x-amz-* headers (sent, or in the query) and
    the resource, `/bucket/key` as sent plus its signed subresources."""
    params = dict(query)
    amz = {name.lower(): value.strip() for name, value in query if name.lower().startswith("x-amz-")}
    for name, value in EnvironHeaders(environ).items():
        if name.lower().startswith("x-amz-"):
            amz[name.lower()] = str(value).strip()
    path = _raw_path(environ)
    if mount and (path == mount or path.startswith(mount + "/")):
        path = path[len(mount) :] or "/"
    subresources = sorted((name, value) for name, value in query if name in _V2_SUBRESOURCES)
    if subresources:
        path += "?" + "&".join(f"{name}={value}" if value else name for name, value in subresources)
    lines = [
        environ.get("REQUEST_METHOD", "GET"),
        _header(environ, "content-md5") or params.get("content-md5", ""),
        _header(environ, "content-type") or params.get("content-type", ""),
        params["Expires"],
        *(f"{name}:{amz[name]}" for name in sorted(amz)),
        path,
    ]
    return "\n".join(lines)


def signature(secret: str, scope: list[str], string_to_sign: str) -> str:
    """HMAC-SHA256 with the key derived from the secret for the scope's
    date, region and service."""
    key = ("AWS4" + secret).encode("utf-8")
    for part in scope:
        key = hmac.new(key, part.encode("utf-8"), hashlib.sha256).digest()
    return hmac.new(key, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def _query_pairs(query_string: str) -> list[tuple[str, str]]:
    """Decoded pairs in order; `+` is kept (SigV4 signs it as a literal)."""
    pairs = []
    for pair in query_string.split("&"):
        if pair:
            name, _, value = pair.partition("=")
            pairs.append((unquote(_unwsgi(name)), unquote(_unwsgi(value))))
    return pairs


def _unwsgi(text: str) -> str:
    """PEP 3333 carries URL parts as latin-1; the percent-decoded bytes are UTF-8."""
    try:
        return text.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return text


def _raw_path(environ: dict[str, Any]) -> str:
    """The path exactly as the client sent it (still percent-encoded)."""
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw:
        path = urlsplit(raw).path if "://" in raw.split("?", 1)[0] else raw.split("?", 1)[0]
        return path or "/"
    path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
    return quote(_unwsgi(path), safe="/~") or "/"


def _header(environ: dict[str, Any], name: str) -> str:
    """A header's value with its runs of whitespace made one space, as SigV4
    signs it ("" if not sent)."""
    return " ".join(str(EnvironHeaders(environ).get(name, "")).split())


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def error_document(refused: Refused) -> Response:
    """S3's error body: `<Error><Code>..</Code><Message>..</Message>...`."""
    request_id = uuid.uuid4().hex[:16].upper()
    elements = {"Code": refused.code, "Message": refused.message, **refused.details, "RequestId": request_id}
    body = "".join(f"<{name}>{escape(value)}</{name}>" for name, value in elements.items())
    return Response(
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Error>{body}</Error>',
        status=refused.status,
        content_type="application/xml",
        headers={"x-amz-request-id": request_id},
    )


class S3Gateway:
    """The emulated S3 at `S3_PATH` of another server (the API's): the
    signature is checked on the path as the client sent and signed it, then
    the request goes to moto's WSGI application as if it had been sent to
    moto's own port (the prefix stripped)."""

    def __init__(self, app: WsgiApp, credentials: Mapping[str, str], clock: Callable[[], float] = time.time) -> None:
        self._app = app
        self._guarded = SignedRequestsOnly(self._unprefixed, credentials, clock, mount=S3_PATH)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        return self._guarded(environ, start_response)

    def _unprefixed(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        inner = dict(environ)
        inner["PATH_INFO"] = _strip(environ.get("PATH_INFO", ""))
        for key in ("RAW_URI", "REQUEST_URI"):
            if key in environ:
                inner[key] = _strip_raw(environ[key])
        return self._app(inner, start_response)


def _strip(path: str) -> str:
    if not is_s3_path(path):
        return path
    return path[len(S3_PATH) :] or "/"


def _strip_raw(target: str) -> str:
    """`/_aws/s3/bucket/key?query` -> `/bucket/key?query` (a full URL too)."""
    if "://" in target.split("?", 1)[0]:
        parts = urlsplit(target)
        return parts._replace(path=_strip(parts.path)).geturl()
    path, mark, query = target.partition("?")
    return _strip(path) + mark + query
