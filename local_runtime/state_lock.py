"""One local runtime per state dir, and `make reset` only when none runs.

A running runtime holds an exclusive `flock` on `<state dir>/server.lock` for
its whole life. The kernel releases it when the process ends, however it ends
(Ctrl-C, a crash, `kill -9`), so a lock is never left stale: its holder is
alive. A second runtime on the same dir would restore the same snapshot and
then overwrite the first one's, and `make reset` under a running runtime is
undone by its next snapshot; both try the lock without waiting and refuse.

Standard library only: `make reset` runs this file (through
`scripts/reset-state`) with the system Python, before any virtualenv exists.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

LOCK_FILE = "server.lock"
# What a state dir holds once a runtime has used it: a dir with none of these
# is not one (OVERSIGHT_LOCAL_STATE_DIR=~ must not wipe a home directory).
_STATE_DIR_MARKERS = (LOCK_FILE, "snapshot.json", "objects")
# Locks stay held while their file descriptor is open: kept here, not by the
# caller, so that dropping the returned object cannot release one early.
_HELD: list[StateDirLock] = []


@dataclass(frozen=True)
class Holder:
    """Who holds a state dir, as the holder wrote it into the lock file."""

    pid: int | None = None
    url: str | None = None

    def describe(self) -> str:
        parts = [f"pid {self.pid}" if self.pid else "", self.url or ""]
        return ", ".join(part for part in parts if part)


class StateDirInUse(Exception):
    """Another live process holds the state dir's lock."""

    def __init__(self, state_dir: Path, holder: Holder) -> None:
        self.state_dir = state_dir
        self.holder = holder
        who = holder.describe()
        super().__init__(f"{state_dir} is in use by a running local runtime{f' ({who})' if who else ''}")


class NotAStateDir(Exception):
    """A path `make reset` will not remove: nothing in it says a runtime used it."""

    def __init__(self, path: Path) -> None:
        super().__init__(
            f"{path} does not look like a local runtime state dir (no {', '.join(_STATE_DIR_MARKERS)}): not removed"
        )


@dataclass
class StateDirLock:
    state_dir: Path
    fd: int

    def record_url(self, url: str) -> None:
        """Name the URL in the lock file once it is known (`--port 0` picks
        the port only when the server starts, after the lock is taken)."""
        _write_record(self.fd, url)

    def release(self) -> None:
        if self in _HELD:
            _HELD.remove(self)
        os.close(self.fd)


def hold_state_dir(state_dir: Path, url: str | None = None) -> StateDirLock:
    """Take the state dir's lock for this process's life (creating the dir),
    recording the pid and URL for whoever is refused. Raises StateDirInUse."""
    fd = _lock(state_dir, create=True)
    _write_record(fd, url)
    lock = StateDirLock(state_dir, fd)
    _HELD.append(lock)
    return lock


def hold_state_dir_or_exit(state_dir: Path, url: str | None = None) -> StateDirLock:
    """`serve`'s single call: the lock, or exit 1 with a message saying what
    to do (SystemExit prints it to stderr), before anything is restored."""
    try:
        return hold_state_dir(state_dir, url)
    except StateDirInUse as error:
        raise SystemExit(
            f"cannot start: {error}.\n"
            "Two runtimes on one state dir would overwrite each other's data: stop that one first, "
            "or give this one another state dir (--state-dir, OVERSIGHT_LOCAL_STATE_DIR)."
        ) from None


def _lock(state_dir: Path, create: bool) -> int:
    """An fd holding the lock on the lock file that is at its path now: a
    reset may remove the dir between our open and our flock, and a lock on a
    removed file would guard nothing."""
    path = state_dir / LOCK_FILE
    while True:
        if create:
            state_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            raise StateDirInUse(state_dir, holder) from None
        try:
            current = os.stat(path)
        except FileNotFoundError:
            current = None
        opened = os.fstat(fd)
        if current is not None and (current.st_dev, current.st_ino) == (opened.st_dev, opened.st_ino):
            return fd
        os.close(fd)
        if not create:
            raise FileNotFoundError(path)


def _write_record(fd: int, url: str | None) -> None:
    os.ftruncate(fd, 0)
    os.pwrite(fd, (json.dumps({"pid": os.getpid(), "url": url}) + "\n").encode(), 0)


def _read_holder(fd: int) -> Holder:
    try:
        record = json.loads(os.pread(fd, 4096, 0).decode() or "{}")
    except (OSError, ValueError):
        return Holder()
    if not isinstance(record, dict):
        return Holder()
    pid = record.get("pid")
    url = record.get("url")
    return Holder(pid if isinstance(pid, int) else None, url if isinstance(url, str) else None)


def reset_state_dir(state_dir: Path) -> str:
    """Remove the state dir unless a runtime holds it (StateDirInUse). The lock
    is held while the dir is renamed away, so no runtime can start on it
    meanwhile; a runtime started after the rename gets a fresh dir."""
    if not state_dir.exists():
        return f"nothing to reset: {state_dir} does not exist"
    if not state_dir.is_dir() or not any((state_dir / marker).exists() for marker in _STATE_DIR_MARKERS):
        raise NotAStateDir(state_dir)
    fd = _lock(state_dir, create=False)
    try:
        doomed = state_dir.with_name(f"{state_dir.name}.removing-{os.getpid()}")
        try:
            state_dir.rename(doomed)
        except OSError:
            doomed = state_dir  # e.g. a mount point: removed in place
        shutil.rmtree(doomed)
    finally:
        os.close(fd)
    return f"removed {state_dir}: the local data is gone"


def reset_main(argv: list[str]) -> int:
    """`make reset`: exit 1, with what to do, when nothing could be removed."""
    if len(argv) != 1:
        print("usage: reset-state STATE_DIR", file=sys.stderr)
        return 2
    state_dir = Path(argv[0])
    try:
        print(reset_state_dir(state_dir))
    except StateDirInUse as error:
        pid = error.holder.pid
        how = f"Ctrl-C where `make run` runs, or kill {pid}" if pid else "Ctrl-C where `make run` runs"
        print(
            f"make reset refused: {error}.\n"
            f"Its next snapshot would write the data back. Stop it first ({how}), then run make reset again.\n"
            "Nothing was removed.",
            file=sys.stderr,
        )
        return 1
    except NotAStateDir as error:
        print(f"make reset refused: {error}.", file=sys.stderr)
        return 1
    return 0
