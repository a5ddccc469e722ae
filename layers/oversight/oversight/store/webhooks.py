"""DynamoDB store of webhook subscriptions (one partition per tenant, a few
dozen items at most: a list is one Query) and the sealed fields beside an
intervention (store/sealed.py)."""

from __future__ import annotations

from functools import cache
from typing import Any

from oversight.config import settings
from oversight.errors import ValidationFailed
from oversight.models import LastDelivery, Webhook
from oversight.models.webhook import MAX_SUBSCRIPTIONS
from oversight.store import keys
from oversight.store._dynamodb import conditional, dynamodb_client, read_partition, record_from_item, record_values
from oversight.store.marshal import dump_item, to_attribute

_JSON_FIELDS = ("events", "last_delivery")
SECRET_ATTRIBUTE = "secret"  # noqa: S105 -- the attribute that holds the sealed secret, not one


class DynamoWebhookStore:
    def __init__(self, table_name: str, client: Any) -> None:
        self._table = table_name
        self._client = client

    def _key(self, tenant: str, webhook_id: str) -> dict[str, Any]:
        return {"pk": {"S": keys.webhooks_pk(tenant)}, "sk": {"S": keys.webhook_sk(webhook_id)}}

    def _items(self, tenant: str) -> list[dict[str, Any]]:
        request = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :hook)",
            "ExpressionAttributeValues": {":pk": {"S": keys.webhooks_pk(tenant)}, ":hook": {"S": keys.WEBHOOK_PREFIX}},
            "ConsistentRead": True,
        }
        return [item for page in read_partition(self._client, request) for item in page]

    def create(self, tenant: str, webhook: Webhook, sealed_secret: bytes) -> None:
        """Store a subscription; 422 past MAX_SUBSCRIPTIONS (two creates
        racing may both pass the count: the limit is a guard rail)."""
        if len(self._items(tenant)) >= MAX_SUBSCRIPTIONS:
            raise ValidationFailed.field(
                ["body"], f"a tenant has at most {MAX_SUBSCRIPTIONS} webhook subscriptions; delete one first"
            )
        values = record_values(webhook, _JSON_FIELDS)
        values.update(pk=keys.webhooks_pk(tenant), sk=keys.webhook_sk(webhook.id), entity="webhook")
        item = {**dump_item(values), SECRET_ATTRIBUTE: {"B": sealed_secret}}
        self._client.put_item(TableName=self._table, Item=item, ConditionExpression="attribute_not_exists(pk)")

    def list(self, tenant: str) -> list[Webhook]:
        """Oldest first."""
        hooks = [_webhook(item) for item in self._items(tenant)]
        return sorted(hooks, key=lambda hook: (hook.created_at, hook.id))

    def get_with_secret(self, tenant: str, webhook_id: str) -> tuple[Webhook, bytes] | None:
        item = self._client.get_item(TableName=self._table, Key=self._key(tenant, webhook_id), ConsistentRead=True).get(
            "Item"
        )
        if not item:
            return None
        return _webhook(item), item[SECRET_ATTRIBUTE]["B"]

    def delete(self, tenant: str, webhook_id: str) -> bool:
        """False when there was no such subscription."""
        return conditional(
            lambda: self._client.delete_item(
                TableName=self._table, Key=self._key(tenant, webhook_id), ConditionExpression="attribute_exists(pk)"
            )
        )

    def record_delivery(self, tenant: str, webhook_id: str, delivery: LastDelivery, disable: str | None) -> None:
        """Note an attempt's outcome (and disable the subscription with a
        reason); nothing when it was deleted meanwhile."""
        expression = "SET last_delivery = :delivery"
        values: dict[str, Any] = {":delivery": {"S": delivery.model_dump_json()}}
        if disable is not None:
            expression += ", enabled = :no, disabled_reason = :reason"
            values.update({":no": {"BOOL": False}, ":reason": to_attribute(disable)})
        conditional(
            lambda: self._client.update_item(
                TableName=self._table,
                Key=self._key(tenant, webhook_id),
                UpdateExpression=expression,
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues=values,
            )
        )

    def sealed_of_intervention(self, tenant: str, intervention_id: str) -> dict[str, bytes]:
        """The sealed fields kept beside an intervention (none: {})."""
        item = self._client.get_item(
            TableName=self._table,
            Key={"pk": {"S": keys.intervention_pk(tenant, intervention_id)}, "sk": {"S": keys.SEALED_SK}},
            ConsistentRead=True,
        ).get("Item")
        return {name: value["B"] for name, value in (item or {}).items() if "B" in value}


def _webhook(item: dict[str, Any]) -> Webhook:
    """The subscription as readers see it: never its sealed secret."""
    shown = {name: value for name, value in item.items() if name != SECRET_ATTRIBUTE}
    return record_from_item(shown, Webhook, _JSON_FIELDS)


@cache
def get_webhook_store() -> DynamoWebhookStore:
    return DynamoWebhookStore(settings().table_name, dynamodb_client())
