"""Stable KMS keys: a key of the template has the same id and the same key
material on every start, derived from its logical id and a seed kept in the
state dir, so that what a function encrypted before a restart (a webhook
secret in the table) decrypts after it. moto draws both at random for every
key it creates (local_runtime/emulation/patches.py,
`derive_template_keys_from_the_local_seed`, applies these)."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import uuid
from pathlib import Path

from local_runtime.journal import fsync_directory, write_atomically

# The tag create_keys puts on a template's key: its logical id.
LOGICAL_ID_TAG = "oversight:local:logical-id"
SEED_FILE = "kms-seed"
# The seed without a state dir (the tests): public, as the local credentials are.
DEFAULT_SEED = b"oversight-local-kms-seed-not-a-secret"

_seed = DEFAULT_SEED


def use_seed(seed: bytes) -> None:
    """Keys created from now on derive from `seed`."""
    global _seed
    _seed = seed


def current_seed() -> bytes:
    return _seed


def load_or_create_seed(state_dir: Path) -> bytes:
    """The state dir's seed, made (32 random bytes, hex, mode 0600) on
    first use: `make reset` removes it with the data it protects."""
    path = state_dir / SEED_FILE
    if path.exists():
        return bytes.fromhex(path.read_text().strip())
    seed = secrets.token_bytes(32)
    write_atomically(path, seed.hex().encode())
    os.chmod(path, 0o600)
    fsync_directory(state_dir)
    return seed


def _derived(purpose: str, logical_id: str, seed: bytes | None) -> bytes:
    return hmac.new(seed if seed is not None else _seed, f"{purpose}:{logical_id}".encode(), hashlib.sha256).digest()


def local_key_id(logical_id: str, seed: bytes | None = None) -> str:
    """The id of the template's key `logical_id` (a UUID, as AWS's are)."""
    return str(uuid.UUID(bytes=_derived("key-id", logical_id, seed)[:16], version=4))


def local_key_material(logical_id: str, seed: bytes | None = None) -> bytes:
    """Its 256-bit symmetric key material."""
    return _derived("key-material", logical_id, seed)
