"""Webhook subscriptions of a tenant (admins only): create (its secret
generated, sealed, shown once), list (no secrets), delete. Deliveries are
oversight.delivery's."""

from __future__ import annotations

import secrets
import uuid

from aws_lambda_powertools.metrics import MetricUnit

from oversight import clock
from oversight.auth import Principal
from oversight.errors import Forbidden, RecordNotFound
from oversight.lookup import checked_id
from oversight.models import CreatedWebhook, CreateWebhookRequest, Webhook, WebhookList
from oversight.models.intervention import WEBHOOK_HOSTS_VARIABLE
from oversight.observability import logger, metrics
from oversight.outbound import check_destination
from oversight.store.sealed import seal
from oversight.store.webhooks import SECRET_ATTRIBUTE, get_webhook_store

# 32 random bytes, URL-safe base64: 43 characters, used as text (docs/integrations.md).
SECRET_BYTES = 32


class WebhookNotFound(RecordNotFound):
    record = "webhook subscription"


def _require_admin(principal: Principal) -> None:
    if not principal.is_admin:
        raise Forbidden("Only admins manage webhook subscriptions")


def create_webhook(principal: Principal, request: CreateWebhookRequest) -> CreatedWebhook:
    _require_admin(principal)
    check_destination(request.url, WEBHOOK_HOSTS_VARIABLE, "url")
    webhook = Webhook(
        id=str(uuid.uuid4()),
        url=request.url,
        events=request.events,
        description=request.description,
        created_at=clock.now(),
        created_by=principal.sub,
    )
    secret = secrets.token_urlsafe(SECRET_BYTES)
    sealed = seal(principal.tenant, webhook.id, SECRET_ATTRIBUTE, secret)
    get_webhook_store().create(principal.tenant, webhook, sealed)
    metrics.add_metric(name="WebhookSubscribed", unit=MetricUnit.Count, value=1)
    logger.info("webhook subscribed", extra={"webhook_id": webhook.id, "events": webhook.events})
    return CreatedWebhook(**webhook.model_dump(), secret=secret)


def list_webhooks(principal: Principal) -> WebhookList:
    _require_admin(principal)
    return WebhookList(items=get_webhook_store().list(principal.tenant))


def delete_webhook(principal: Principal, webhook_id: str) -> None:
    _require_admin(principal)
    if not get_webhook_store().delete(principal.tenant, checked_id(webhook_id, WebhookNotFound)):
        raise WebhookNotFound()
    logger.info("webhook deleted", extra={"webhook_id": webhook_id})
