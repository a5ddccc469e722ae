"""The patches the local runtime applies to moto for the services around
the event sources: DynamoDB Streams, KMS and EventBridge. Each, as in patches.py, is a
function whose docstring says what AWS does that moto does not and how the
patch closes the gap; PATCHES lists them in the order
`install_moto_patches()` applies them (after patches.PATCHES), and
tests/unit/test_local_event_patches.py runs each one's scenario with every
patch applied and, in a process of its own, without that one.

Tied, as the others, to the moto versions they were tested with
(local_runtime.emulation.TESTED_MOTO_VERSIONS).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from moto.dynamodb.models import DynamoDBBackend

from local_runtime.emulation import keys, writes

Patch = Callable[[], None]


def _wrap(owner: Any, name: str, wrapper_of: Callable[[Any], Any]) -> None:
    original = getattr(owner, name)
    setattr(owner, name, functools.wraps(original)(wrapper_of(original)))


# ---------------------------------------------------------------- streams
def drop_stream_records_of_failed_transactions() -> None:
    """A transaction's atomicity, in the stream. DynamoDB writes a stream
    record for each item a transaction changed, once it succeeded, and none
    for one that failed. moto writes the record of each item as it applies
    it, so a transaction that fails on its second item (a condition, a
    validation) has already put the first item's record in the stream; the
    rollback above restores the item, not the stream, and a consumer would
    publish a change that never happened. Here the stream records a failed
    transaction added are removed with its items (under the write lock, so
    no other write's record is among them)."""
    _wrap(DynamoDBBackend, "transact_write_items", _without_records_of_a_failure)


def _without_records_of_a_failure(method: Any) -> Any:
    def transact(self: Any, transact_items: list[dict[str, Any]]) -> Any:
        with writes.writing():
            shards = _stream_lengths(self, transact_items)
            try:
                return method(self, transact_items)
            except Exception:
                for shard, length in shards:
                    del shard.items[length:]
                raise

    return transact


def _stream_lengths(backend: Any, transact_items: list[dict[str, Any]]) -> list[tuple[Any, int]]:
    """(stream shard, its number of records) of each table the transaction names."""
    shards = {}
    for entry in transact_items:
        _, op = next(iter(entry.items()))
        table = backend.tables.get(op.get("TableName"))
        shard = getattr(table, "stream_shard", None)
        if shard is not None:
            shards[id(shard)] = (shard, len(shard.items))
    return list(shards.values())


# ---------------------------------------------------------------- KMS
def derive_template_keys_from_the_local_seed() -> None:
    """Keys that outlive a restart. A KMS key keeps its id and material for
    its life, so a ciphertext stored today decrypts next year; moto draws
    both at random whenever a key is created, and the local runtime creates
    the template's keys on every start: a webhook secret encrypted before a
    restart would no longer decrypt after it. A key created with the
    template's logical-id tag (template.create_keys) gets the id and the
    material `keys.py` derives from that logical id and the local seed
    (kept in the state dir)."""
    from moto.kms.models import KmsBackend

    _wrap(KmsBackend, "create_key", _derived_from_the_seed)


def _derived_from_the_seed(create_key: Any) -> Any:
    def create_derived_key(self: Any, *args: Any, **kwargs: Any) -> Any:
        key = create_key(self, *args, **kwargs)
        tags = {tag["TagKey"]: tag["TagValue"] for tag in self.tagger.list_tags_for_resource(key.id)["Tags"]}
        logical_id = tags.get(keys.LOGICAL_ID_TAG)
        if logical_id is None:
            return key
        derived_id = keys.local_key_id(logical_id)
        self.keys.pop(key.id, None)
        self.tagger.delete_all_tags_for_resource(key.id)
        key.arn = key.arn.replace(key.id, derived_id)
        key.id = derived_id
        key.key_material = keys.local_key_material(logical_id)
        self.keys[derived_id] = key
        self.tagger.tag_resource(derived_id, [{"TagKey": name, "TagValue": value} for name, value in tags.items()])
        return key

    return create_derived_key


# ---------------------------------------------------------------- EventBridge
# The event a target receives, as EventBridge sends it (its fields in AWS's order).
_WHOLE_EVENT = (
    '{"version": "0", "id": "<id>", "detail-type": "<detail-type>", "source": "<source>", "account": "<account>", '
    '"time": <time>, "region": "<region>", "resources": <resources>, "detail": <detail>}'
)


def deliver_events_whole() -> None:
    """The event's account. EventBridge hands a target (an SQS queue here)
    the whole event: version, id, detail-type, source, account, time,
    region, resources, detail. moto builds it from a template that leaves
    `account` out (its events carry it; its default input template drops
    it), so a consumer reading `event["account"]` would fail locally only.
    The default template here has every field."""
    from moto.events.utils import EventTemplateParser

    EventTemplateParser.DEFAULT_EVENT_INPUT_TEMPLATE = _WHOLE_EVENT


PATCHES: tuple[Patch, ...] = (
    drop_stream_records_of_failed_transactions,
    derive_template_keys_from_the_local_seed,
    deliver_events_whole,
)
_APPLIED: set[str] = set()


def apply(patch: Patch) -> None:
    """Apply one of PATCHES unless it already is."""
    if patch.__name__ not in _APPLIED:
        patch()
        _APPLIED.add(patch.__name__)
