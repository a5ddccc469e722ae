"""What an API function does after a SnapStart restore (the `ApiSnapStart`
parameter, docs/operations.md): environments restored from one snapshot
start with the same `random` state, so the SDK's retry jitter and ours
(oversight.store.faults) would be alike in all of them; each reseeds from
the kernel on restore. Identifiers and secrets never use `random`.

`snapshot_restore_py` is part of Lambda's Python runtime; elsewhere (and
without SnapStart) there is nothing to register."""

from __future__ import annotations

import random

try:
    from snapshot_restore_py import register_after_restore  # type: ignore[import-not-found]  # the runtime's
except ImportError:  # not Lambda's runtime
    pass
else:
    register_after_restore(random.seed)
