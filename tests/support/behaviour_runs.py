"""Short fixed-seed runs whose exact figures are pinned in tests/fixtures/behaviour.json.

`python -m tests.support.behaviour_runs` records them (it was run once with the code before the redesign
of the assembly path); tests/test_behaviour.py reruns each and compares to 1e-6.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from tests.support.helpers import QA_SMALL, SMALL

FIXTURES = Path(__file__).parents[1] / "fixtures"

#: name -> overrides of `python train.py`, as typed today.
LONGER = ["trainer.max_steps=20", "trainer.limit_train_batches=1.0"]

#: name -> overrides of `python train.py`, as typed today (20 steps: outputs that differ).
RUNS: dict[str, list[str]] = {
    "translation_lstm_bahdanau": [*SMALL, *LONGER, "rnn=lstm", "attention=bahdanau"],
    "translation_gru_luong_general": [*SMALL, *LONGER, "rnn=gru", "attention=luong_general"],
    "translation_transformer": [*SMALL, *LONGER, "model=transformer"],
    "summarization_copy_coverage": [
        *SMALL,
        *LONGER,
        "task=summarization",
        "model.copy=true",
        "model.coverage=true",
        "data.max_tokens=4096",
        "task.decoding.beam_size=2",
    ],
    "qa": [*QA_SMALL, *LONGER],
}

#: Keys that vary run to run (wall-clock) and are not behaviour.
VOLATILE = ("train/tokens_per_sec", "time/minutes")


def run(name: str, out: Path) -> dict[str, float]:
    """Train + test one run in-process on one thread; its metrics without the volatile ones."""
    from encdec.cli.train import train
    from tests.support.helpers import compose_train

    torch.set_num_threads(1)
    cfg = compose_train(RUNS[name], out)
    metrics = train(cfg)
    return {k: v for k, v in sorted(metrics.items()) if k not in VOLATILE}


#: Runs whose last checkpoint is kept as a fixture (written by the code before the redesign).
KEPT = ("translation_lstm_bahdanau", "summarization_copy_coverage", "qa")
LEGACY = FIXTURES / "legacy"


def main() -> None:
    import shutil
    import tempfile

    os.environ.setdefault("ENCDEC_DATA_DIR", str(Path(__file__).parents[3] / "shared" / "data"))
    results = {}
    LEGACY.mkdir(parents=True, exist_ok=True)
    for name in RUNS:
        with tempfile.TemporaryDirectory() as tmp:
            results[name] = run(name, Path(tmp))
            print(name, results[name], flush=True)
            if name in KEPT:
                ckpt = Path(tmp) / "checkpoints" / "last.ckpt"
                shutil.copy(ckpt, LEGACY / f"{name}.ckpt")
    (FIXTURES / "behaviour.json").write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()


#: The first lines of each kept checkpoint's test split, fed to predict.py.
PREDICT_LINES = 12


def predict_input(name: str, data_dir: Path) -> str:
    """predict.py's input for a kept checkpoint: real test sentences / dialogues / questions."""
    import gzip

    if name.startswith("translation"):
        lines = gzip.open(data_dir / "multi30k" / "test_2016_flickr.en.gz", "rt").read()
        return "".join(lines.splitlines(keepends=True)[:PREDICT_LINES])
    if name.startswith("summarization"):
        rows = (data_dir / "dialogsum" / "test.jsonl").read_text().splitlines()[:PREDICT_LINES]
        # one dialogue per line: its turn breaks become spaces
        return "".join(json.loads(r)["document"].replace("\n", " ") + "\n" for r in rows)
    rows = (data_dir / "squad" / "validation.jsonl").read_text().splitlines()[:PREDICT_LINES]
    return "".join(
        json.dumps({k: json.loads(r)[k] for k in ("id", "context", "question")}) + "\n"
        for r in rows
    )


def cli_outputs(name: str, ckpt: Path, data_dir: Path, work: Path) -> dict[str, object]:
    """eval.py's metrics (2 test batches) and predict.py's output lines for one checkpoint."""
    import subprocess
    import sys

    root = Path(__file__).parents[2]
    env = {**os.environ, "ENCDEC_DATA_DIR": str(data_dir), "WANDB_MODE": "disabled"}
    run_dir = work / f"eval-{name}"
    subprocess.run(
        [sys.executable, "eval.py", f"ckpt_path={ckpt}", "trainer.limit_test_batches=2",
         "trainer.enable_progress_bar=false", f"hydra.run.dir={run_dir}"],
        cwd=root, env=env, check=True, capture_output=True,
    )  # fmt: skip
    metrics = json.loads((run_dir / "metrics.json").read_text())
    source = work / f"{name}.in"
    source.write_text(predict_input(name, data_dir))
    out = work / f"{name}.out"
    subprocess.run(
        [sys.executable, "predict.py", f"ckpt_path={ckpt}", f"input={source}", f"output={out}",
         f"hydra.run.dir={work / ('predict-' + name)}"],
        cwd=root, env=env, check=True, capture_output=True,
    )  # fmt: skip
    return {"eval": metrics, "predict": out.read_text().splitlines()}


def record_cli() -> None:
    """Record eval/predict outputs of the kept checkpoints, and export the translation model."""
    import subprocess
    import sys
    import tempfile

    data_dir = Path(os.environ.get("ENCDEC_DATA_DIR") or Path(__file__).parents[3] / "shared/data")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in KEPT:
            results[name] = cli_outputs(name, LEGACY / f"{name}.ckpt", data_dir, Path(tmp))
            print(name, results[name]["eval"], flush=True)
    (FIXTURES / "legacy_outputs.json").write_text(json.dumps(results, indent=1) + "\n")
    subprocess.run(
        [sys.executable, "-m", "encdec.export",
         f"ckpt_path={LEGACY / 'translation_lstm_bahdanau.ckpt'}",
         f"out={LEGACY / 'translation_lstm_bahdanau.pt'}"],
        cwd=Path(__file__).parents[2], check=True, capture_output=True,
    )  # fmt: skip
