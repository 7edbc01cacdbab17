"""Faults on real runs: SIGKILL mid-epoch and restart, Ctrl-C, a diverging loss, same-seed repeats."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate

from encdec.callbacks.faults import TrainingDiverged
from encdec.checkpoint_io import AtomicCheckpointIO
from encdec.cli.common import ROOT, run_friendly
from encdec.cli.train import train
from encdec.tasks import Seq2SeqTask
from tests.integration.test_cli import run
from tests.support.helpers import SMALL, compose_train

#: The small real run of the tests, over whole epochs: 37 batches per epoch (300 real pairs in
#: 256-token batches), 2 epochs, last.ckpt every 3 steps; no logger.
TINY = [
    *(
        o
        for o in SMALL
        if not o.startswith(("data.max_tokens", "trainer.max_steps", "trainer.limit_train"))
    ),
    "data.max_tokens=256",
    "trainer.max_epochs=2",
    "callbacks.step_checkpoint.every_n_train_steps=3",
]
#: Metrics that must match exactly between an interrupted-and-resumed and an uninterrupted run.
COMPARED = ("train/loss", "val/loss", "val/ppl", "val/bleu", "test/loss", "test/bleu")


def start(args: list[str], data_dir: Path, log_dir: Path) -> subprocess.Popen:
    """`python train.py <args>` in the background, as `run` would start it. Ctrl-C is restored
    to its default for the child: a test suite started in the background of a non-interactive
    shell (`make test &`) inherits SIGINT ignored, and Python then never raises KeyboardInterrupt."""
    env = {**os.environ, "ENCDEC_DATA_DIR": str(data_dir), "WANDB_MODE": "offline"}
    return subprocess.Popen(
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        args=[sys.executable, "train.py", *args, f"paths.log_dir={log_dir}"]
        + [f"paths.cache_dir={ROOT / '.cache'}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_for(path: Path, proc: subprocess.Popen, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not path.is_file():
        assert proc.poll() is None, f"training ended before {path} appeared"
        assert time.monotonic() < deadline, f"{path} did not appear in {timeout}s"
        time.sleep(0.02)


def metrics(run_dir: Path) -> dict[str, float]:
    return json.loads((run_dir / "metrics.json").read_text())


@pytest.fixture(scope="module")
def uninterrupted(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    log_dir = tmp_path_factory.mktemp("faults")
    result = run(["train.py", *TINY, "run_name=straight"], data_dir, log_dir)
    assert result.returncode == 0, result.stderr[-3000:]
    return log_dir / "outputs" / "straight"


@pytest.mark.slow  # three CLI trainings (~25 s): make test-slow and CI run it
def test_sigkill_mid_epoch_then_the_same_command_resumes_exactly(
    uninterrupted: Path, data_dir: Path, tmp_path: Path
) -> None:
    args = [*TINY, "run_name=killed"]
    run_dir = tmp_path / "outputs" / "killed"
    last = run_dir / "checkpoints" / "last.ckpt"
    proc = start(args, data_dir, tmp_path)
    wait_for(last, proc)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL

    saved = torch.load(last, weights_only=True)  # atomic writes: always a whole checkpoint
    steps_per_epoch = (
        torch.load(uninterrupted / "checkpoints" / "last.ckpt", weights_only=True)["global_step"]
        // 2
    )
    step = saved["global_step"]
    assert saved["epoch"] == 0 and 0 < step < steps_per_epoch, "the kill must land mid-epoch"
    assert saved["loops"]["fit_loop"]["state_dict"]["combined_loader"] == [
        {"epoch": 0, "batches_done": step}
    ]

    again = run(["train.py", *args], data_dir, tmp_path)  # the very same command
    assert again.returncode == 0, again.stderr[-3000:]
    log = again.stdout + again.stderr
    assert f"Resuming from {last} (epoch 0, step {step})" in log
    assert "not resumable" not in log
    resumed, straight = metrics(run_dir), metrics(uninterrupted)
    assert {k: resumed[k] for k in COMPARED} == {k: straight[k] for k in COMPARED}
    final = torch.load(last, weights_only=True)
    assert final["global_step"] == 2 * steps_per_epoch


@pytest.mark.slow  # three trainings (~15 s): make test-slow and CI run it
def test_extending_a_finished_run_matches_an_unbroken_run(
    uninterrupted: Path, data_dir: Path, tmp_path: Path
) -> None:
    """The common case: train 1 epoch, later continue the same run to 2 (an epoch-end resume)."""
    args = ["train.py", *TINY, "run_name=extended"]
    first = run([*args, "trainer.max_epochs=1", "test=false"], data_dir, tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    second = run(args, data_dir, tmp_path)
    assert second.returncode == 0, second.stderr[-3000:]
    run_dir = tmp_path / "outputs" / "extended"
    last = run_dir / "checkpoints" / "last.ckpt"
    assert f"Resuming from {last} (epoch 0, step 37)" in second.stdout + second.stderr
    resumed, straight = metrics(run_dir), metrics(uninterrupted)
    assert {k: resumed[k] for k in COMPARED} == {k: straight[k] for k in COMPARED}


@pytest.mark.parametrize(
    ("sig", "status"), [(signal.SIGINT, 1), (signal.SIGTERM, 143)], ids=["ctrl-c", "sigterm"]
)
def test_an_interrupt_saves_a_checkpoint_and_exits_cleanly(
    sig: signal.Signals, status: int, data_dir: Path, tmp_path: Path
) -> None:
    args = [*TINY, "run_name=interrupted", "callbacks.step_checkpoint.every_n_train_steps=2"]
    run_dir = tmp_path / "outputs" / "interrupted"
    last = run_dir / "checkpoints" / "last.ckpt"
    proc = start(args, data_dir, tmp_path)
    wait_for(last, proc)  # training is under way
    proc.send_signal(sig)
    output, _ = proc.communicate(timeout=120)
    assert proc.returncode == status, output[-3000:]
    assert "Traceback" not in output
    assert "Interrupted at step" in output and str(last) in output
    step = int(output.split("Interrupted at step ")[1].split(":")[0])
    assert torch.load(last, weights_only=True)["global_step"] == step
    assert not (run_dir / "metrics.json").exists()


def test_a_nan_loss_stops_with_the_step_and_the_last_good_checkpoint(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ENCDEC_DATA_DIR", str(data_dir))
    # The fault, injected: the loss of the 6th training step (global step 5) comes out NaN, as a
    # diverging run's would. (The real models here are too well clipped to diverge on demand.)
    real_loss = Seq2SeqTask.loss

    def loss_nan_at_step_5(self: Seq2SeqTask, batch, label_smoothing):
        result = real_loss(self, batch, label_smoothing)
        if self.training and self.trainer.global_step == 5:
            result = result._replace(cross_entropy=result.cross_entropy * float("nan"))
        return result

    monkeypatch.setattr(Seq2SeqTask, "loss", loss_nan_at_step_5)
    cfg = compose_train([*TINY, "callbacks.step_checkpoint.every_n_train_steps=2"], tmp_path)
    with pytest.raises(TrainingDiverged) as err:
        train(cfg)
    message = str(err.value)
    last = tmp_path / "checkpoints" / "last.ckpt"
    assert message.startswith("The training loss is nan at step 5 (epoch 0, batch 6)")
    assert f"The last good checkpoint is {last}; resume from it with resume={last}" in message
    good = torch.load(last, weights_only=True)
    assert good["global_step"] == 4
    assert all(torch.isfinite(t).all() for t in good["state_dict"].values())


def test_the_same_seed_gives_identical_losses(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ENCDEC_DATA_DIR", str(data_dir))
    losses = []
    for name in ("a", "b"):
        overrides = [*SMALL, "trainer.max_steps=8", "trainer.limit_train_batches=8", "test=false"]
        overrides += ["logger=csv", "trainer.log_every_n_steps=1"]
        out = tmp_path / name
        out.mkdir()
        train(compose_train(overrides, out))
        rows = (out / "csv" / "version_0" / "metrics.csv").read_text().splitlines()
        header = rows[0].split(",")
        column = header.index("train/loss")
        losses.append([r.split(",")[column] for r in rows[1:] if r.split(",")[column]])
    assert len(losses[0]) == 8
    assert losses[0] == losses[1]


def test_checkpoints_are_written_atomically(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write that dies halfway leaves the previous checkpoint whole, and no stray file."""
    cfg = compose_train(TINY, tmp_path)
    trainer = instantiate(cfg.trainer, logger=False)
    io = trainer.strategy.checkpoint_io
    assert isinstance(io, AtomicCheckpointIO)
    path = tmp_path / "checkpoints" / "last.ckpt"
    io.save_checkpoint({"global_step": 3, "weights": torch.ones(1000)}, path)

    real_save = torch.save

    def killed_halfway(obj, f, *args, **kwargs) -> None:
        real_save(obj, f, *args, **kwargs)
        f.truncate(f.tell() // 2)  # half the bytes are on disk...
        raise OSError("killed")  # ...when the process dies

    monkeypatch.setattr(torch, "save", killed_halfway)
    with pytest.raises(OSError, match="killed"):
        io.save_checkpoint({"global_step": 6, "weights": torch.zeros(1000)}, path)
    monkeypatch.undo()
    assert torch.load(path, weights_only=True)["global_step"] == 3
    assert [p.name for p in path.parent.iterdir()] == ["last.ckpt"]


def test_a_full_disk_during_a_checkpoint_save_is_one_line_naming_the_intact_checkpoint(
    data_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The disk fills up at the second save (step 6): the run ends with exit code 1 and one
    message naming the folder and the last checkpoint, which is whole (step 3)."""
    monkeypatch.setenv("ENCDEC_DATA_DIR", str(data_dir))
    real_save, saves = torch.save, []

    def disk_full_at_the_second_save(obj, f, *args, **kwargs) -> None:
        saves.append(obj.get("global_step"))
        if len(saves) == 2:
            f.write(b"x" * 1000)  # a few bytes reach the disk, then it is full
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_save(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, "save", disk_full_at_the_second_save)
    cfg = compose_train([*TINY, "test=false"], tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        run_friendly(lambda: train(cfg))
    monkeypatch.undo()
    assert exit_info.value.code == 1
    folder, last = tmp_path / "checkpoints", tmp_path / "checkpoints" / "last.ckpt"
    (message,) = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert "\n" not in message
    assert f"Could not write the checkpoint {last}: the disk is full" in message
    assert f"The last checkpoint, {last}, is intact: free space in {folder}" in message
    assert torch.load(last, weights_only=True)["global_step"] == saves[0] == 3
    assert sorted(p.name for p in folder.iterdir()) == ["last.ckpt"]  # no temporary file left
