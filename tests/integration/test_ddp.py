"""DDP under Hydra, on the CPU: `python train.py hardware=ddp_cpu` with 2 processes (gloo)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.integration.test_cli import CLI_SMALL, only, run

# 300 training pairs at 512 tokens per batch: 9 batches per rank, so 18 steps are two epochs (two
# validations). The 1,014 validation sentences make 63 batches: an uneven split, so rank 1 repeats
# a batch of rank 0 and the gathered outputs must be de-duplicated by example id.
DDP = [
    "hardware=ddp_cpu",
    *(o for o in CLI_SMALL if not o.startswith(("trainer.max_steps", "trainer.limit_"))),
    "data.max_tokens=512",
    "trainer.max_steps=18",
    "task.optimizer.lr=1e-2",
    "test=false",
]


def test_ddp_cpu_run_matches_a_single_process_evaluation(data_dir: Path, tmp_path: Path) -> None:
    result = run(["train.py", *DDP], data_dir, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    output = result.stdout + result.stderr
    assert "GLOBAL_RANK: 1, MEMBER: 2/2" in output  # the second process joined
    # One output folder (rank 1 ran in rank 0's folder), one W&B run, one set of checkpoints.
    run_dir = only(list(tmp_path.glob("*/*/*")))  # outputs/<date>/<time>
    assert (run_dir / "train_ddp_process_1.log").is_file()
    assert only(list((run_dir / "wandb").glob("*run-*")))
    checkpoints = sorted(p.name for p in (run_dir / "checkpoints").iterdir())
    assert len(checkpoints) == 2 and checkpoints[0].startswith("epoch"), checkpoints  # best, last
    assert not list(tmp_path.glob("**/lightning_logs"))
    assert output.count("Final metrics") == 1  # printed by rank 0 only
    ddp = json.loads((run_dir / "metrics.json").read_text())

    # One process scores the same checkpoint on the whole validation set.
    single = run(
        # beam_size=1: the greedy decoding of training's validation (eval.py uses the test's beam)
        [
            "eval.py",
            f"ckpt_path={run_dir / 'checkpoints' / 'last.ckpt'}",
            "split=val",
            "beam_size=1",
        ],
        data_dir,
        tmp_path / "eval",
    )
    assert single.returncode == 0, single.stderr[-3000:]
    eval_dir = only(list((tmp_path / "eval").glob("outputs/*/*")))
    one = json.loads((eval_dir / "metrics.json").read_text())
    assert ddp["val/bleu"] > 0  # small after 18 steps, but every hypothesis counts in it
    assert ddp["val/bleu"] == pytest.approx(one["val/bleu"], abs=1e-6)
    # The loss is averaged over every target token of the set: equal only if no sentence is
    # missing or counted twice.
    assert ddp["val/loss"] == pytest.approx(one["val/loss"], rel=1e-6)


@pytest.mark.gpu
@pytest.mark.parametrize("hardware", ["gpu", "ddp"])
def test_gpu_hardware_trains_in_bf16(hardware: str, data_dir: Path, tmp_path: Path) -> None:
    """On a CUDA machine (`pytest -m gpu`): one GPU, then DDP over all visible GPUs. The CSV
    logger: this checks the hardware, not W&B, which a bare CUDA image may lack."""
    result = run(["train.py", f"hardware={hardware}", "logger=csv", *DDP[1:]], data_dir, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    run_dir = only(list(tmp_path.glob("outputs/*/*")))
    assert json.loads((run_dir / "metrics.json").read_text())["val/bleu"] >= 0
    config = (run_dir / "config_resolved.yaml").read_text()
    assert "precision: bf16-mixed" in config
