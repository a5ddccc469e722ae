"""GET /health: liveness, no auth and no AWS calls."""

from oversight.api import api_handler, build_resolver

app = build_resolver()


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


lambda_handler = api_handler(app, public=True)
