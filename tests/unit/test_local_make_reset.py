"""The state dir's lock (local_runtime/state_lock.py): one runtime per state
dir, and `make reset` only when none holds it. flock locks belong to an open
file, so two opens in this one process contend as two processes would."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from local_runtime import state_lock
from local_runtime.state_lock import (
    LOCK_FILE,
    NotAStateDir,
    StateDirInUse,
    StateDirLock,
    hold_state_dir,
    reset_main,
    reset_state_dir,
)


@pytest.fixture
def held() -> Iterator[list[StateDirLock]]:
    """Locks a test took, released afterwards whatever happened."""
    locks: list[StateDirLock] = []
    yield locks
    for lock in locks:
        if lock in state_lock._HELD:
            lock.release()


def test_the_holder_creates_the_dir_and_names_itself_in_the_lock_file(tmp_path: Path, held: list) -> None:
    state_dir = tmp_path / "state"

    held.append(hold_state_dir(state_dir, "http://127.0.0.1:3000"))

    assert json.loads((state_dir / LOCK_FILE).read_text()) == {"pid": os.getpid(), "url": "http://127.0.0.1:3000"}


def test_a_second_holder_is_refused_with_the_first_ones_pid_and_url(tmp_path: Path, held: list) -> None:
    held.append(hold_state_dir(tmp_path, "http://127.0.0.1:3000"))

    with pytest.raises(StateDirInUse) as refused:
        held.append(hold_state_dir(tmp_path))

    assert (refused.value.holder.pid, refused.value.holder.url) == (os.getpid(), "http://127.0.0.1:3000")
    assert f"pid {os.getpid()}, http://127.0.0.1:3000" in str(refused.value)


def test_a_url_known_only_after_startup_is_recorded(tmp_path: Path, held: list) -> None:
    lock = hold_state_dir(tmp_path)
    held.append(lock)

    lock.record_url("http://127.0.0.1:41234")

    with pytest.raises(StateDirInUse, match="41234"):
        hold_state_dir(tmp_path)


def test_a_released_lock_can_be_taken_again(tmp_path: Path, held: list) -> None:
    hold_state_dir(tmp_path).release()

    held.append(hold_state_dir(tmp_path))


def test_serve_exits_with_what_to_do_when_the_dir_is_held(tmp_path: Path, held: list) -> None:
    held.append(hold_state_dir(tmp_path, "http://127.0.0.1:3000"))

    with pytest.raises(SystemExit) as exited:
        state_lock.hold_state_dir_or_exit(tmp_path)

    message = str(exited.value.code)
    assert message.startswith("cannot start:") and "overwrite each other's data" in message
    assert "--state-dir" in message and f"pid {os.getpid()}" in message


def test_a_lock_on_a_file_a_reset_just_removed_is_not_kept(
    tmp_path: Path, held: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reset can rename the dir away between the runtime's open and its
    flock: the runtime must end up holding the lock file at the path."""
    state_dir = tmp_path / "state"
    state_dir.mkdir()
    real_flock = state_lock.fcntl.flock
    renamed = []

    def reset_in_between(fd: int, operation: int) -> None:
        if not renamed:
            state_dir.rename(tmp_path / "removed")
            renamed.append(True)
        real_flock(fd, operation)

    monkeypatch.setattr(state_lock.fcntl, "flock", reset_in_between)
    lock = hold_state_dir(state_dir)
    held.append(lock)

    at_path = os.stat(state_dir / LOCK_FILE)
    assert (os.fstat(lock.fd).st_dev, os.fstat(lock.fd).st_ino) == (at_path.st_dev, at_path.st_ino)


def test_reset_refuses_while_the_dir_is_held_and_removes_nothing(tmp_path: Path, held: list) -> None:
    held.append(hold_state_dir(tmp_path / "state", "http://127.0.0.1:3000"))
    (tmp_path / "state" / "snapshot.json").write_text("{}")

    with pytest.raises(StateDirInUse):
        reset_state_dir(tmp_path / "state")

    assert sorted(path.name for path in (tmp_path / "state").iterdir()) == [LOCK_FILE, "snapshot.json"]


def test_reset_removes_a_dir_no_one_holds_and_leaves_nothing_beside_it(tmp_path: Path) -> None:
    hold_state_dir(tmp_path / "state").release()
    (tmp_path / "state" / "objects").mkdir()
    (tmp_path / "state" / "journal-0001.log").write_text("written by the runtime")

    said = reset_state_dir(tmp_path / "state")

    assert "removed" in said
    assert list(tmp_path.iterdir()) == []


def test_reset_removes_a_state_dir_written_before_there_was_a_lock(tmp_path: Path) -> None:
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "snapshot.json").write_text("{}")

    reset_state_dir(tmp_path / "state")

    assert not (tmp_path / "state").exists()


def test_reset_will_not_remove_a_dir_that_is_no_state_dir(tmp_path: Path) -> None:
    """OVERSIGHT_LOCAL_STATE_DIR pointed at the wrong place must not wipe it."""
    (tmp_path / "notes.txt").write_text("mine")

    with pytest.raises(NotAStateDir):
        reset_state_dir(tmp_path)

    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_reset_of_a_missing_dir_says_so(tmp_path: Path) -> None:
    assert "nothing to reset" in reset_state_dir(tmp_path / "absent")


def test_the_reset_command_exits_1_saying_to_stop_the_runtime_first(
    tmp_path: Path, held: list, capsys: pytest.CaptureFixture[str]
) -> None:
    held.append(hold_state_dir(tmp_path, "http://127.0.0.1:3000"))

    assert reset_main([str(tmp_path)]) == 1

    said = capsys.readouterr()
    assert said.out == ""
    assert "Stop it first" in said.err and f"kill {os.getpid()}" in said.err and "http://127.0.0.1:3000" in said.err
    assert "Nothing was removed." in said.err
