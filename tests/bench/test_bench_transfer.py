"""bench/transfer.py: two arms that differ only in init.* (same seed, budget and recipe)."""

from __future__ import annotations

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
    _, timed = dry_run(*args, "--minutes", "30", "--seed", "5")
    assert "+trainer.max_time={minutes:30.0}" in timed and "seed=5" in timed
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
