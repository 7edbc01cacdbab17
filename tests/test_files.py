"""encdec.files: atomic writes (never half a file, no temporary left behind) and file locks."""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from pathlib import Path

import pytest

from encdec.files import atomic_open, atomic_path, atomic_write_bytes, atomic_write_text, file_lock

SIZE = 1 << 20  # 1 MiB: large enough for many write() calls, so a torn file would show


def content(writer: int) -> bytes:
    return bytes([writer]) * SIZE


def write_many(path: str, writer: int, times: int) -> None:
    for _ in range(times):
        with atomic_open(path, "wb") as f:
            data = content(writer)
            for i in range(0, SIZE, 4096):  # many small writes: a reader could see a prefix
                f.write(data[i : i + 4096])


def check_whole(path: Path, stop: threading.Event, seen: list[int]) -> None:
    while not stop.is_set():
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            continue
        assert len(data) == SIZE and data == bytes([data[0]]) * SIZE, "half-written file seen"
        seen.append(data[0])


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


@pytest.mark.parametrize("kind", ["threads", "processes"])
def test_concurrent_writers_never_leave_half_a_file(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "shared.bin"
    stop, seen = threading.Event(), []
    reader = threading.Thread(target=check_whole, args=(path, stop, seen))
    reader.start()
    try:
        if kind == "threads":
            workers = [
                threading.Thread(target=write_many, args=(str(path), w, 5)) for w in (1, 2, 3)
            ]
        else:
            ctx = multiprocessing.get_context("spawn")
            workers = [ctx.Process(target=write_many, args=(str(path), w, 5)) for w in (1, 2, 3)]
        for w in workers:
            w.start()
        for w in workers:
            w.join(timeout=120)
        if kind == "processes":
            assert [w.exitcode for w in workers] == [0, 0, 0]
    finally:
        stop.set()
        reader.join()
    data = path.read_bytes()
    assert data in {content(1), content(2), content(3)}
    assert seen, "the reader never saw the file"
    assert leftovers(tmp_path) == []


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "out.txt"
    atomic_write_text(path, "old\n")
    for error in (ValueError("bad"), KeyboardInterrupt(), OSError(28, "No space left on device")):
        with pytest.raises(type(error)), atomic_open(path, "w") as f:
            f.write("half of the new")
            raise error
        assert path.read_text() == "old\n"
        assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]
    with pytest.raises(KeyboardInterrupt), atomic_path(tmp_path / "new.bin") as tmp:
        tmp.write_bytes(b"x")
        raise KeyboardInterrupt
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_atomic_writes_replace_and_create_folders(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "file.bin"
    atomic_write_bytes(path, b"one")
    atomic_write_bytes(path, b"two")
    assert path.read_bytes() == b"two"
    mode = path.stat().st_mode & 0o777
    assert mode == 0o666 & ~current_umask()  # as open() would have made it, not mkstemp's 0600
    with atomic_path(tmp_path / "c.txt", fsync=True) as tmp:
        tmp.write_text("synced")
    assert (tmp_path / "c.txt").read_text() == "synced"
    assert leftovers(path.parent) == [] and leftovers(tmp_path) == []


def current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def hold_lock(path: str, started, seconds: float) -> None:
    with file_lock(path):
        started.set()
        time.sleep(seconds)


def test_file_lock_excludes_another_process(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    started = ctx.Event()
    holder = ctx.Process(target=hold_lock, args=(str(tmp_path / "x"), started, 1.5))
    holder.start()
    assert started.wait(60)
    begin = time.monotonic()
    with file_lock(tmp_path / "x"):
        waited = time.monotonic() - begin
    holder.join()
    assert waited > 0.5  # it waited for the other process to let go
