"""Values the table keeps but no reader of it may see (webhook secrets,
callback secrets, Step Functions task tokens), encrypted with the stack's
KMS key. The encryption context binds each ciphertext to its tenant, record
and field: copied onto another record, it does not decrypt. The API
functions may only encrypt; the delivery function alone decrypts
(template.yaml), and keeps what it decrypted for the life of its container."""

from __future__ import annotations

from functools import cache, lru_cache
from typing import Any

from oversight.config import settings
from oversight.store.faults import new_client


@cache
def _kms() -> Any:
    return new_client("kms")


def _context(tenant: str, record_id: str, field: str) -> dict[str, str]:
    return {"tenant": tenant, "record": record_id, "field": field}


def seal(tenant: str, record_id: str, field: str, value: str) -> bytes:
    answer = _kms().encrypt(
        KeyId=settings().webhook_key_id,
        Plaintext=value.encode(),
        EncryptionContext=_context(tenant, record_id, field),
    )
    blob: bytes = answer["CiphertextBlob"]
    return blob


def seal_fields(tenant: str, record_id: str, fields: dict[str, str]) -> dict[str, bytes]:
    return {name: seal(tenant, record_id, name, value) for name, value in fields.items()}


@lru_cache(maxsize=512)
def unseal(tenant: str, record_id: str, field: str, blob: bytes) -> str:
    answer = _kms().decrypt(CiphertextBlob=blob, EncryptionContext=_context(tenant, record_id, field))
    plaintext: bytes = answer["Plaintext"]
    return plaintext.decode()
