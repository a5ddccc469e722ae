"""POST /webhooks, GET /webhooks, DELETE /webhooks/{id}: a tenant's webhook
subscriptions (admins only). The secret is in the create's answer only."""

from aws_lambda_powertools.event_handler import Response

from oversight.api import api_handler, build_resolver, current_principal, json_response
from oversight.config import SecretsKeySettings, TableSettings, require_settings
from oversight.models import CreatedWebhook, CreateWebhookRequest, WebhookList
from oversight.webhooks import create_webhook, delete_webhook, list_webhooks

REQUIRED = require_settings("manage_webhooks", TableSettings, SecretsKeySettings)
app = build_resolver()


@app.operation("POST /webhooks")
def post_webhook(body: CreateWebhookRequest) -> Response[CreatedWebhook]:
    return json_response(201, create_webhook(current_principal(app), body))


@app.operation("GET /webhooks")
def get_webhooks() -> Response[WebhookList]:
    return json_response(200, list_webhooks(current_principal(app)))


@app.operation("DELETE /webhooks/{id}")
def remove_webhook(id: str) -> Response[None]:
    delete_webhook(current_principal(app), id)
    return Response(status_code=204)


lambda_handler = api_handler(app)
