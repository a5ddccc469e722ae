"""GET /health (liveness) and GET /openapi.json (the API's contract): no
auth and no AWS calls."""

from typing import Any

from aws_lambda_powertools.event_handler import Response

from oversight.api import JSON, api_handler, build_resolver
from oversight.contract import openapi_document, responses

app = build_resolver()


@app.get(
    "/health",
    operation_id="getHealth",
    tags=["service"],
    summary="Liveness",
    responses=responses(200, "The service is up", public=True),
)
def health() -> dict[str, str]:
    return {"status": "ok"}


@app.get(
    "/openapi.json",
    operation_id="getOpenApiDocument",
    tags=["service"],
    summary="This OpenAPI document",
    responses=responses(200, "OpenAPI 3.1", public=True),
)
def openapi() -> Response[dict[str, Any]]:
    return Response(status_code=200, content_type=JSON, body=openapi_document())


lambda_handler = api_handler(app, public=True)
