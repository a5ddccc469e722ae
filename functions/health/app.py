"""GET /health (liveness) and GET /openapi.json (the API's contract): no
auth, no AWS calls, no settings."""

from typing import Any

from aws_lambda_powertools.event_handler import Response

from oversight.api import api_handler, build_resolver
from oversight.config import require_settings
from oversight.contract import JSON, openapi_document

REQUIRED = require_settings("health")
app = build_resolver()


@app.operation("GET /health")
def health() -> dict[str, str]:
    return {"status": "ok"}


@app.operation("GET /openapi.json")
def openapi() -> Response[dict[str, Any]]:
    return Response(status_code=200, content_type=JSON, body=openapi_document())


lambda_handler = api_handler(app, public=True)
