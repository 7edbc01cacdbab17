"""End-of-run averaging: after a tiny real training, averaged.ckpt holds the mean of the last N
snapshots, loads as any checkpoint, and the model ends with those weights."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import pytest
import torch

from encdec.build import load_checkpoint
from encdec.callbacks import CheckpointAveraging
from encdec.cli.train import train
from tests.support.helpers import SMALL, build_task, compose_train


def weights(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, map_location="cpu", weights_only=True)["state_dict"]


def assert_mean(averaged: dict[str, torch.Tensor], snapshots: list[Path]) -> None:
    states = [weights(p) for p in snapshots]
    floats = [k for k, v in averaged.items() if v.is_floating_point()]
    assert floats
    for k in floats:
        mean = sum(s[k] for s in states) / len(states)
        torch.testing.assert_close(averaged[k], mean, rtol=1e-6, atol=1e-7)
    # the snapshots differ (training moved the weights), so the mean is none of them
    assert any(not torch.equal(states[0][k], states[-1][k]) for k in floats)


def test_train_py_writes_the_mean_of_the_last_n_validation_snapshots(
    tmp_path: Path, data_dir: Path, monkeypatch
) -> None:
    monkeypatch.setenv("ENCDEC_DATA_DIR", str(data_dir))
    cfg = compose_train(
        [
            *SMALL,
            "trainer.max_steps=6",  # 3 epochs of 2 batches: validations after steps 2, 4, 6
            "test=false",
            "+callbacks.averaging._target_=encdec.callbacks.CheckpointAveraging",
            "+callbacks.averaging.dirpath=${paths.output_dir}/checkpoints",
            "+callbacks.averaging.num=2",
        ],
        tmp_path,
    )
    train(cfg)
    checkpoints = tmp_path / "checkpoints"
    snapshots = sorted((checkpoints / "averaging").glob("*.ckpt"))
    assert [p.name for p in snapshots] == ["step00000004.ckpt", "step00000006.ckpt"]
    averaged = checkpoints / "averaged.ckpt"
    assert_mean(weights(averaged), snapshots)
    loaded = load_checkpoint(averaged)  # the same format as every other checkpoint
    for k, v in weights(averaged).items():
        torch.testing.assert_close(loaded.task.state_dict()[k], v)


AVERAGING = [
    "+callbacks.averaging._target_=encdec.callbacks.CheckpointAveraging",
    "+callbacks.averaging.dirpath=${paths.output_dir}/checkpoints",
    "+callbacks.averaging.num=2",
]


def test_the_end_of_run_test_scores_the_averaged_weights(
    tmp_path: Path, data_dir: Path, monkeypatch, caplog
) -> None:
    """With callbacks.averaging, train.py tests averaged.ckpt (the mean of the last snapshots),
    not the best checkpoint, and says so; the figures are those of that file."""
    import logging

    from encdec import build

    monkeypatch.setenv("ENCDEC_DATA_DIR", str(data_dir))
    tested: list[tuple[str, dict[str, torch.Tensor]]] = []
    check_resume = build.check_resume

    def spy(ckpt, path, task):  # the weights train.py loads into the task before its test
        tested.append((path, {k: v.clone() for k, v in ckpt["state_dict"].items()}))
        check_resume(ckpt, path, task)

    monkeypatch.setattr(build, "check_resume", spy)
    cfg = compose_train([*SMALL, "trainer.max_steps=6", *AVERAGING], tmp_path)
    with caplog.at_level(logging.INFO, logger="encdec.cli.train"):
        metrics = train(cfg)
    checkpoints = tmp_path / "checkpoints"
    averaged = checkpoints / "averaged.ckpt"
    assert [path for path, _ in tested] == [str(averaged)]
    assert_mean(tested[0][1], sorted((checkpoints / "averaging").glob("*.ckpt")))
    assert f"Testing the averaged weights (callbacks.averaging): {averaged}" in caplog.text
    # the logged test figures are averaged.ckpt's own, as eval.py would score it
    loaded = load_checkpoint(averaged, data_dir=str(data_dir), with_data=True)
    trainer = L.Trainer(
        limit_test_batches=1,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path / "again",
    )
    (again,) = trainer.test(loaded.task, datamodule=loaded.datamodule, verbose=False)
    assert metrics["test/loss"] == pytest.approx(again["test/loss"], abs=1e-6)


def test_without_averaging_the_end_of_run_test_scores_the_best_checkpoint(
    tmp_path: Path, data_dir: Path, monkeypatch
) -> None:
    from encdec import build

    monkeypatch.setenv("ENCDEC_DATA_DIR", str(data_dir))
    tested: list[str] = []
    check_resume = build.check_resume
    monkeypatch.setattr(
        build, "check_resume", lambda c, p, t: (tested.append(p), check_resume(c, p, t))
    )
    stale = tmp_path / "checkpoints" / "averaged.ckpt"  # left by an earlier run: never tested
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"stale")
    train(compose_train([*SMALL, "trainer.max_steps=4"], tmp_path))
    assert len(tested) == 1 and "averaged" not in tested[0]
    assert Path(tested[0]).parent == tmp_path / "checkpoints"


def test_every_n_steps_snapshots_and_the_model_ends_with_the_mean(
    tmp_path: Path, data_dir: Path, monkeypatch
) -> None:
    monkeypatch.setenv("ENCDEC_DATA_DIR", str(data_dir))
    cfg = compose_train([*SMALL, "test=false", "scheduler=none"], tmp_path)  # no validation
    datamodule, task = build_task(cfg)
    checkpoints = tmp_path / "checkpoints"
    stale = checkpoints / "averaging" / "step00000099.ckpt"  # left by an abandoned run
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"not a checkpoint")
    callback = CheckpointAveraging(checkpoints, num=3, every_n_train_steps=1)
    trainer = L.Trainer(
        max_steps=4,
        limit_train_batches=4,
        limit_val_batches=0,
        num_sanity_val_steps=0,
        callbacks=[callback],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
    )
    trainer.fit(task, datamodule=datamodule)
    snapshots = callback.snapshots()
    assert [p.name for p in snapshots] == [f"step0000000{i}.ckpt" for i in (2, 3, 4)]
    assert_mean(weights(callback.averaged_path), snapshots)
    for k, v in weights(callback.averaged_path).items():
        torch.testing.assert_close(task.state_dict()[k], v)


@pytest.mark.parametrize(("num", "every"), [(0, None), (2, 0)])
def test_refuses_meaningless_options(num: int, every: int | None, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="callbacks.averaging"):
        CheckpointAveraging(tmp_path, num=num, every_n_train_steps=every)
