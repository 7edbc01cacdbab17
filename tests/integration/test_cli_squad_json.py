"""`task=qa data=squad_json` from the command line: the official SQuAD v1.1 JSON (built from the
shared jsonl for train; the official dev-v1.1.json itself for val) trains to exactly the figures
of the built-in `data=squad` loader on the same questions and seed."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from tests.data.test_qa_files import jsonl_rows, nest
from tests.integration.test_bad_input import assert_clear_error
from tests.integration.test_cli import only, run
from tests.integration.test_cli_qa import CLI_QA

# make test-slow (and CI): two CLI trainings on SQuAD (~1 minute).
pytestmark = pytest.mark.slow

#: Figures that depend on the data and the seed only (not on timing).
COMPARED = ("train/loss", "val/em", "val/f1", "val/loss", "test/em", "test/f1", "test/loss")


@pytest.fixture(scope="module")
def official_files(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("squad_json")
    train = folder / "train-v1.1.json"
    rows = jsonl_rows(data_dir / "squad" / "train.jsonl", 400)  # data.limit_train=300 of them
    train.write_text(json.dumps(nest(rows)), encoding="utf-8")
    with zipfile.ZipFile(data_dir / "squad" / "dev-v1.1.json.zip") as archive:
        archive.extract("dev-v1.1.json", folder)
    return train, folder / "dev-v1.1.json"


def train_metrics(args: list[str], data_dir: Path, log_dir: Path) -> dict:
    result = run(["train.py", *CLI_QA, *args], data_dir, log_dir)
    assert result.returncode == 0, result.stderr[-3000:]
    run_dir = only(list((log_dir / "outputs").glob("*/*")))
    return json.loads((run_dir / "metrics.json").read_text())


def test_official_json_trains_as_the_built_in_loader(
    official_files: tuple[Path, Path], data_dir: Path, tmp_path: Path
) -> None:
    train, dev = official_files
    mine = train_metrics(
        ["data=squad_json", f"data.splits.train={train}", f"data.splits.val={dev}"],
        data_dir,
        tmp_path / "squad_json",
    )
    built_in = train_metrics([], data_dir, tmp_path / "squad")
    assert {k: mine[k] for k in COMPARED} == {k: built_in[k] for k in COMPARED}


def test_a_bad_answer_start_stops_with_one_line(data_dir: Path, tmp_path: Path) -> None:
    bad = {"id": "q1", "question": "Who?", "answers": [{"text": "ran", "answer_start": 40}]}
    path = tmp_path / "bad.json"
    path.write_text(
        json.dumps(
            {"data": [{"title": "T", "paragraphs": [{"context": "Ann ran.", "qas": [bad]}]}]}
        )
    )
    result = run(
        [
            "train.py",
            *CLI_QA,
            "data=squad_json",
            f"data.splits.train={path}",
            f"data.splits.val={path}",
        ],
        data_dir,
        tmp_path,
    )
    assert_clear_error(
        result,
        f"{path}: data[0].paragraphs[0].qas[0] (question q1), answer 0: answer_start=40",
        "counts characters",
    )
