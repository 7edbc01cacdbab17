"""Run folders never collide: a unique default folder per start, one live process per folder (a
stale lock is taken over), and eval.py writes to its own folder, never into a training run's."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from encdec.runs import RunFolderInUse, acquire_run_lock, is_rank_zero, run_id
from tests.integration.test_faults import start, wait_for

#: One training step, no test: the quickest real run. (trainer.enable_progress_bar=false alone
#: switches the bar off: the configured progress-bar callback is dropped, not refused by Lightning.)
ONE_STEP = [
    "data.limit_train=300",
    "data.tokenizer.vocab_size=500",
    "data.max_tokens=1024",
    "model.embedding_dim=16",
    "model.hidden_dim=32",
    "trainer.max_steps=1",
    "trainer.limit_val_batches=1",
    "trainer.num_sanity_val_steps=0",
    "trainer.enable_progress_bar=false",
    "callbacks.model_summary=null",
    "logger=none",
    "test=false",
]


def finish(proc: subprocess.Popen, timeout: float = 300) -> str:
    output, _ = proc.communicate(timeout=timeout)
    return output


# -- the pieces, in this process --------------------------------------------------------------


def test_run_id_is_drawn_once_per_process() -> None:
    assert run_id() == run_id() and len(run_id()) == 6


def test_a_second_lock_on_a_folder_is_refused_and_released_locks_are_taken(tmp_path: Path) -> None:
    release = acquire_run_lock(tmp_path)
    assert (tmp_path / ".lock").read_text() == f"{os.getpid()} {socket.gethostname()}\n"
    # flock locks belong to the open file: a second open in this process is refused like another
    # process would be.
    with pytest.raises(RunFolderInUse, match=f"pid {os.getpid()}") as err:
        acquire_run_lock(tmp_path)
    assert str(tmp_path) in str(err.value) and "\n" not in str(err.value)
    release()
    acquire_run_lock(tmp_path)()  # free again


def test_a_stale_lock_of_a_dead_process_is_taken_over(tmp_path: Path) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True
    )
    (tmp_path / ".lock").write_text(f"{int(dead.stdout)} {socket.gethostname()}\n")
    release = acquire_run_lock(tmp_path)
    assert (tmp_path / ".lock").read_text().split()[0] == str(os.getpid())
    release()


def test_only_rank_zero_locks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    release = acquire_run_lock(tmp_path)
    monkeypatch.setenv("LOCAL_RANK", "1")  # a DDP rank started by Lightning in rank 0's folder
    assert not is_rank_zero()
    acquire_run_lock(tmp_path)()  # does nothing, refuses nothing
    monkeypatch.setenv("RANK", "0")
    assert is_rank_zero()
    release()


# -- real runs --------------------------------------------------------------------------------


def test_two_runs_started_at_once_get_two_folders(data_dir: Path, tmp_path: Path) -> None:
    procs = [start(ONE_STEP, data_dir, tmp_path) for _ in range(2)]
    outputs = [finish(p) for p in procs]
    for proc, output in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, output[-3000:]
    runs = sorted((tmp_path / "outputs").glob("*/*"))  # outputs/<date>/<time>-<token>
    assert len(runs) == 2, runs
    for run in runs:
        assert (run / "checkpoints" / "last.ckpt").is_file()
        assert (run / "config_resolved.yaml").read_text().count(run.name) >= 1  # its own name


def test_a_second_run_in_a_busy_folder_is_refused(data_dir: Path, tmp_path: Path) -> None:
    long = [o for o in ONE_STEP if not o.startswith("trainer.max_steps")]
    # Long enough to outlive the second start on a loaded machine (it ends only when killed).
    endless = ["trainer.max_steps=100000", "trainer.max_epochs=100000"]
    first = start([*long, *endless, "run_name=x"], data_dir, tmp_path)
    folder = tmp_path / "outputs" / "x"
    try:
        wait_for(folder / ".lock", first)
        deadline = time.monotonic() + 120
        while not (folder / ".lock").read_text():  # the pid is written just after the lock
            assert time.monotonic() < deadline
            time.sleep(0.05)
        recorded = [folder / ".hydra" / n for n in ("config.yaml", "overrides.yaml")]
        recorded.append(folder / "train.log")
        deadline = time.monotonic() + 120
        while not all(p.is_file() for p in recorded):  # Hydra writes them after the lock
            assert time.monotonic() < deadline
            time.sleep(0.05)
        before = {p: p.read_bytes() for p in recorded[:2]}
        log_size = recorded[2].stat().st_size
        second = start([*ONE_STEP, "run_name=x", "seed=7"], data_dir, tmp_path)
        output = finish(second)
        assert second.returncode == 1, output[-3000:]
        assert "Traceback" not in output
        assert f"The run folder {folder} is in use by another training (pid {first.pid})" in output
        assert first.poll() is None  # the first run goes on
        # ... and its record is its own: the refused start wrote nothing into the folder
        assert {p: p.read_bytes() for p in recorded[:2]} == before
        assert "in use by another training" not in recorded[2].read_text()[log_size:]
    finally:
        first.send_signal(signal.SIGKILL)  # it dies holding the lock: a stale lock is left
        first.wait()
    assert (folder / ".lock").read_text().split()[0] == str(first.pid)
    third = start([*ONE_STEP, "run_name=x", "resume=never"], data_dir, tmp_path)
    output = finish(third)
    assert third.returncode == 0, output[-3000:]
