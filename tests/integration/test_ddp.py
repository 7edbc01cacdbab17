"""DDP under Hydra, on the CPU: `python train.py hardware=ddp_cpu` with 2 processes (gloo)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.integration.test_cli import CLI_SMALL, only, run
from tests.support.helpers import SMALL

# make test-slow (and CI): two DDP process groups per test (~1 minute).
pytestmark = pytest.mark.slow

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
    eval_dir = only(list((tmp_path / "eval").glob("outputs/eval/*/*")))
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


def test_ddp_cpu_on_a_cold_cache_then_eval_with_ddp(data_dir: Path, tmp_path: Path) -> None:
    """Both ranks start on an empty cache: one trains the tokenizer and encodes the splits, the
    other waits and reads them. eval.py hardware=ddp_cpu then scores the checkpoint on 2 ranks,
    in its own folder, as one process does."""
    import os
    import subprocess
    import sys

    from encdec.cli.common import ROOT

    cache = tmp_path / "cache"
    env = {**os.environ, "ENCDEC_DATA_DIR": str(data_dir), "WANDB_MODE": "offline"}

    def cli(args: list[str]) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, *args, f"paths.log_dir={tmp_path}", f"paths.cache_dir={cache}"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
        )  # fmt: skip

    small = [o for o in SMALL if not o.startswith(("trainer.max_steps", "trainer.limit_train"))]
    trained = cli(["train.py", "hardware=ddp_cpu", *small, "trainer.max_steps=2", "test=false"])
    output = trained.stdout + trained.stderr
    assert trained.returncode == 0, output[-3000:]
    assert "GLOBAL_RANK: 1, MEMBER: 2/2" in output
    assert output.count("Training a 500-token bpe tokenizer") == 1, output[-3000:]
    tokenizers = [p for p in (cache / "tokenizers").iterdir() if not p.name.startswith(".")]
    assert len(tokenizers) == 1
    assert not [p for p in cache.rglob("*") if p.name.endswith(".tmp")]
    run_dir = only(list((tmp_path / "outputs").glob("*/*")))
    ckpt = run_dir / "checkpoints" / "last.ckpt"
    before = {p: p.stat().st_mtime_ns for p in run_dir.rglob("*")}

    scores = {}
    for hardware in ("ddp_cpu", "cpu"):
        result = cli(["eval.py", f"ckpt_path={ckpt}", f"hardware={hardware}", "split=val"])
        assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
        eval_dir = only(list((tmp_path / "outputs" / "eval").glob("*/*")))
        scores[hardware] = json.loads((eval_dir / "metrics.json").read_text())
        os.rename(eval_dir, tmp_path / f"eval-{hardware}")  # so the next one is found alone
    assert {p: p.stat().st_mtime_ns for p in run_dir.rglob("*")} == before  # nothing written
    assert scores["ddp_cpu"]["val/bleu"] == pytest.approx(scores["cpu"]["val/bleu"], abs=1e-6)
    assert scores["ddp_cpu"]["val/loss"] == pytest.approx(scores["cpu"]["val/loss"], rel=1e-6)
