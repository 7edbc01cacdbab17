"""bench/transfer.py: two arms that differ only in init.* (same seed, budget and recipe)."""

from __future__ import annotations

import argparse
import ast
import importlib.util
import os
import shlex
import subprocess
import sys
from pathlib import Path

from tests.support.helpers import TRANSLATION_CKPT

REPO = Path(__file__).resolve().parents[2]


def dry_run(*args: str) -> list[list[str]]:
    done = subprocess.run(
        [sys.executable, "bench/transfer.py", "--dry-run", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    lines = done.stdout.splitlines()
    assert [line.split()[0] for line in lines] == ["[scratch]", "[carried]"], lines
    return [shlex.split(line)[2:] for line in lines]  # after "[arm] python"


def test_the_arms_differ_only_in_the_carried_encoder(tmp_path: Path) -> None:
    recipe = ["--", "model.hidden_dim=16", "model.num_layers=1"]
    args = ["--task", "qa", "--source", str(TRANSLATION_CKPT), "--out", str(tmp_path)]
    scratch, carried = dry_run(*args, "--steps", "7", "--freeze", "3", *recipe)
    assert scratch[:5] == ["train.py", "task=qa", "seed=1234", "trainer.max_steps=7", "logger=csv"]
    assert scratch[-2:] == recipe[1:] and f"paths.log_dir={tmp_path}" in scratch
    assert [a for a in carried if not a.startswith("run_name=")] == [
        *(a for a in scratch if not a.startswith("run_name=")),
        f"init.encoder_from={TRANSLATION_CKPT}",
        "init.freeze_encoder_steps=3",
    ]
    _, timed = dry_run(*args, "--minutes", "90.5", "--seed", "5")
    assert "+trainer.max_time=00:01:30:30" in timed and "seed=5" in timed
    assert not any(a.startswith("trainer.max_steps") for a in timed)


def test_a_missing_source_is_refused(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "bench/transfer.py",
            "--task",
            "qa",
            "--source",
            "nope.ckpt",
            "--steps",
            "1",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2 and "--source nope.ckpt: no such file" in done.stderr


def test_side_by_side_pins_each_arm_to_its_own_core(tmp_path: Path, monkeypatch) -> None:
    spec = importlib.util.spec_from_file_location("transfer_bench", REPO / "bench" / "transfer.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    report = "import os; print(sorted(os.sched_getaffinity(0)), os.environ['OMP_NUM_THREADS'])"
    monkeypatch.setattr(bench, "arm_command", lambda args, arm: [sys.executable, "-c", report])
    args = argparse.Namespace(out=str(tmp_path), seed=7)
    if len(os.sched_getaffinity(0)) < 2:
        assert bench.side_by_side(args) == 2  # refused: one core cannot hold both arms
        return
    assert bench.side_by_side(args) == 0
    logs = [(tmp_path / "outputs" / f"transfer-{arm}-7.log").read_text() for arm in bench.ARMS]
    cores = [ast.literal_eval(log.split("]")[0] + "]") for log in logs]
    assert all(len(c) == 1 for c in cores) and cores[0] != cores[1], logs
    assert all(log.strip().endswith(" 1") for log in logs), logs
