"""The emulation of AWS's DynamoDB as an explicit adapter: moto, patched
where the product relies on an AWS behaviour moto lacks or gets wrong (a
conditional write is atomic), and where moto's cost would make the local
runtime unusable at a realistic size (a Query, a transaction, a read of
thousands of items).

- `install_moto_patches()` applies the patches (patches.py: one function
  per patch, its docstring giving the reason;
  tests/unit/test_local_emulation.py proves each still takes effect; then
  event_patches.py, DynamoDB Streams and KMS, proved by
  tests/unit/test_local_event_patches.py).
- keys.py: the id and material of the template's KMS keys, derived from a
  seed kept in the state dir.
- writes.py: the lock every write holds, and the log of what the writes
  changed (`record_writes`, the journal's source; `dynamodb_writes_paused`
  for a consistent copy of the tables).
- partitions.py: the partition index a Query starts from.
- tables.py: a moto table's items by key.

The patches reach into moto's internals, so they are tied to the moto
versions they were tested with (TESTED_MOTO_VERSIONS).
"""

from __future__ import annotations

import logging
import os
from importlib.metadata import version

log = logging.getLogger(__name__)

# The moto releases the patches were tested with (requirements-dev.txt pins
# the first). Another one may have moved what they patch: a write would then
# silently stop being atomic, or stop reaching the journal.
TESTED_MOTO_VERSIONS = ("5.2.5",)
# Set to 1 to start anyway (with a warning), e.g. to run the tests against
# a moto upgrade before adding it above.
ALLOW_UNTESTED_MOTO = "OVERSIGHT_LOCAL_ALLOW_UNTESTED_MOTO"

_installed = False


class UntestedMoto(RuntimeError):
    """The installed moto is not one the emulation's patches were tested with."""


def check_moto_version(installed: str | None = None) -> None:
    """Refuse a moto the patches were not tested with, rather than run with
    some of them silently gone (see TESTED_MOTO_VERSIONS)."""
    if installed is None:
        installed = version("moto")
    if installed in TESTED_MOTO_VERSIONS:
        return
    message = (
        f"moto {installed} is installed, but the local runtime's emulation is tested with moto "
        f"{' or '.join(TESTED_MOTO_VERSIONS)} only: `.venv/bin/pip install -r requirements-dev.txt` installs it. "
        f"To try this version anyway, set {ALLOW_UNTESTED_MOTO}=1 and run tests/unit/test_local_emulation.py "
        "and tests/unit/test_local_journal.py."
    )
    if os.environ.get(ALLOW_UNTESTED_MOTO) == "1":
        log.warning("%s", message)
        return
    raise UntestedMoto(message)


def install_moto_patches() -> None:
    """Apply every patch of patches.PATCHES, in order (idempotent). Raises
    UntestedMoto on a moto release they were not tested with."""
    global _installed
    if _installed:
        return
    check_moto_version()
    # Imported after the check: a moto that moved what the patches import
    # fails the start with UntestedMoto's message rather than an ImportError.
    from local_runtime.emulation import event_patches, patches

    for patch in patches.PATCHES:
        patches.apply(patch)
    for patch in event_patches.PATCHES:
        event_patches.apply(patch)
    _installed = True
