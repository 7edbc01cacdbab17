"""The warm-up + inverse-square-root schedule against fairseq's formula, stepped as Lightning does."""

from __future__ import annotations

import math

import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

from encdec.schedules import InverseSqrt
from encdec.trust import allowed_target

LR, WARMUP, INIT = 5e-3, 2000, 1e-7


def expected(step: int) -> float:
    if step < WARMUP:
        return INIT + step * (LR - INIT) / WARMUP
    return LR * math.sqrt(WARMUP) / math.sqrt(step)


def rates(steps: int) -> list[float]:
    """The rate the optimizer holds before each of `steps` + 1 optimizer steps."""
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.Adam([param], lr=LR)
    scheduler = InverseSqrt(optimizer, warmup_updates=WARMUP, warmup_init_lr=INIT)
    seen = [optimizer.param_groups[0]["lr"]]
    for _ in range(steps):
        optimizer.step()
        scheduler.step()
        seen.append(optimizer.param_groups[0]["lr"])
    return seen


def test_values_at_given_steps_follow_the_formula() -> None:
    seen = rates(4 * WARMUP)
    assert seen[0] == pytest.approx(INIT)
    assert seen[1] == pytest.approx(INIT + (LR - INIT) / WARMUP)
    assert seen[WARMUP // 2] == pytest.approx((INIT + LR) / 2, rel=1e-6)
    assert seen[WARMUP] == pytest.approx(LR)  # the peak
    assert seen[4 * WARMUP] == pytest.approx(LR / 2)  # sqrt(w / 4w) = 1/2
    for step in (0, 1, 7, WARMUP // 2, WARMUP - 1, WARMUP, WARMUP + 1, 3 * WARMUP, 4 * WARMUP):
        assert seen[step] == pytest.approx(expected(step), rel=1e-9), step
    assert max(seen) == pytest.approx(LR) and seen.index(max(seen)) == WARMUP


def test_one_warmup_step_is_plain_inverse_sqrt_decay() -> None:
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([param], lr=0.1)
    scheduler = InverseSqrt(optimizer, warmup_updates=1, warmup_init_lr=0.0)
    assert optimizer.param_groups[0]["lr"] == 0.0
    for _ in range(4):
        optimizer.step()
        scheduler.step()
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.1 / 2)


def test_resumes_from_its_state_dict() -> None:
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.Adam([param], lr=LR)
    scheduler = InverseSqrt(optimizer, warmup_updates=WARMUP, warmup_init_lr=INIT)
    for _ in range(10):
        optimizer.step()
        scheduler.step()
    state = scheduler.state_dict()
    fresh_opt = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=LR)
    fresh = InverseSqrt(fresh_opt, warmup_updates=WARMUP, warmup_init_lr=INIT)
    fresh.load_state_dict(state)
    fresh_opt.step()
    fresh.step()
    assert fresh_opt.param_groups[0]["lr"] == pytest.approx(expected(11))


def test_builds_from_a_partial_config_as_the_task_does() -> None:
    cfg = OmegaConf.create(
        {
            "_target_": "encdec.schedules.InverseSqrt",
            "_partial_": True,
            "warmup_updates": WARMUP,
            "warmup_init_lr": INIT,
        }
    )
    assert allowed_target(cfg._target_)
    optimizer = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=LR)
    scheduler = instantiate(cfg)(optimizer=optimizer)  # Task.configure_optimizers' call
    assert isinstance(scheduler, InverseSqrt)
    assert optimizer.param_groups[0]["lr"] == pytest.approx(INIT)


@pytest.mark.parametrize("warmup", [0, -1])
def test_refuses_a_warmup_below_one_step(warmup: int) -> None:
    optimizer = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=LR)
    with pytest.raises(ValueError, match=f"warmup_updates={warmup}"):
        InverseSqrt(optimizer, warmup_updates=warmup)


def test_steps_once_per_optimizer_step_in_a_real_training(tmp_path, data_dir, monkeypatch) -> None:
    """Through Task.configure_optimizers (task.scheduler.interval=step), as train.py builds it."""
    import lightning as L

    from tests.support.helpers import SMALL, build_task, compose_train

    monkeypatch.setenv("ENCDEC_DATA_DIR", str(data_dir))
    cfg = compose_train([*SMALL, "scheduler=none", "test=false"], tmp_path)
    schedule = {"_target_": "encdec.schedules.InverseSqrt", "_partial_": True, "warmup_updates": 4}
    schedule = {"_target_": "encdec.tasks.LRSchedule", "scheduler": schedule, "interval": "step"}
    datamodule, task = build_task(cfg, scheduler=schedule)
    trainer = L.Trainer(
        max_steps=3,
        limit_train_batches=3,
        limit_val_batches=0,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
    )
    trainer.fit(task, datamodule=datamodule)
    peak = cfg.task.optimizer.lr
    (optimizer,) = trainer.optimizers
    assert optimizer.param_groups[0]["lr"] == pytest.approx(1e-7 + 3 * (peak - 1e-7) / 4)


def test_scheduler_inverse_sqrt_composes_and_warms_up_then_decays_in_a_run(
    tmp_path, data_dir, monkeypatch
) -> None:
    """`python train.py scheduler=inverse_sqrt`: the node it writes (as `--cfg job` prints it),
    and the rate of each of 3 real training steps: warm-up over 2 steps, then 1/sqrt(step)."""
    import lightning as L

    from encdec.tasks import LRSchedule
    from tests.support.helpers import SMALL, build_task, compose_train

    cfg = compose_train(["scheduler=inverse_sqrt"])
    assert OmegaConf.to_container(cfg.task.scheduler) == {
        "_target_": "encdec.tasks.LRSchedule",
        "scheduler": {
            "_target_": "encdec.schedules.InverseSqrt",
            "_partial_": True,
            "warmup_updates": 4000,
            "warmup_init_lr": 1e-7,
        },
        "interval": "step",
    }
    assert isinstance(instantiate(cfg.task.scheduler), LRSchedule)

    monkeypatch.setenv("ENCDEC_DATA_DIR", str(data_dir))
    overrides = [*SMALL, "scheduler=inverse_sqrt", "task.scheduler.scheduler.warmup_updates=2"]
    cfg = compose_train(
        [*overrides, "trainer.max_steps=3", "trainer.limit_train_batches=3"], tmp_path
    )
    datamodule, task = build_task(cfg)
    seen: list[float] = []

    class Rates(L.Callback):
        def on_train_batch_start(self, trainer, *args) -> None:  # the rate this step uses
            seen.append(trainer.optimizers[0].param_groups[0]["lr"])

    trainer = L.Trainer(
        max_steps=3,
        limit_train_batches=3,
        limit_val_batches=0,
        callbacks=[Rates()],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
    )
    trainer.fit(task, datamodule=datamodule)
    peak = cfg.task.optimizer.lr
    want = [1e-7, 1e-7 + (peak - 1e-7) / 2, peak]  # steps 0, 1 (warm-up), 2 (the peak)
    assert seen == pytest.approx(want, rel=1e-9)
    after = trainer.optimizers[0].param_groups[0]["lr"]  # after step 3: decay
    assert after == pytest.approx(peak * math.sqrt(2 / 3), rel=1e-9)
