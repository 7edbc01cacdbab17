"""The redesign of the assembly path changed no number: fixed-seed runs, and eval/predict on
checkpoints written before it, give exactly the figures recorded then (tests/support/behaviour_runs.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import encdec
from tests.support.behaviour_runs import (
    FIXTURES,
    KEPT,
    LEGACY,
    RUNS,
    cli_outputs,
    predict_input,
    run,
)

EXPECTED = json.loads((FIXTURES / "behaviour.json").read_text())
LEGACY_OUTPUTS = json.loads((FIXTURES / "legacy_outputs.json").read_text())


#: Figures logged since the recordings (issue 30: the literature's scorers beside today's): the
#: recorded keys must come back equal, and nothing else may be new.
ADDED = ("bleu_lc_tok", "rougeLsum", "_mean", "_best")


def assert_same_metrics(got: dict[str, float], want: dict[str, float]) -> None:
    assert set(want) <= set(got)
    assert all(k.endswith(ADDED) for k in set(got) - set(want)), sorted(set(got) - set(want))
    for key, value in want.items():
        assert got[key] == pytest.approx(value, abs=1e-6), key


@pytest.mark.parametrize("name", list(RUNS))
def test_fixed_seed_run_gives_the_recorded_metrics(
    name: str, tmp_path: Path, data_dir: Path, monkeypatch
) -> None:
    monkeypatch.setenv("ENCDEC_DATA_DIR", str(data_dir))
    assert_same_metrics(run(name, tmp_path), EXPECTED[name])


@pytest.mark.parametrize("name", KEPT)
def test_eval_and_predict_on_an_old_checkpoint_give_the_recorded_outputs(
    name: str, tmp_path: Path, data_dir: Path
) -> None:
    got = cli_outputs(name, LEGACY / f"{name}.ckpt", data_dir, tmp_path)
    want = LEGACY_OUTPUTS[name]
    assert_same_metrics(got["eval"], want["eval"])
    assert got["predict"] == want["predict"]


def test_a_model_file_written_before_the_redesign_loads_and_translates_the_same(
    data_dir: Path,
) -> None:
    model = encdec.load(str(LEGACY / "translation_lstm_bahdanau.pt"))
    lines = predict_input("translation_lstm_bahdanau", data_dir).splitlines()
    assert model.translate(lines) == LEGACY_OUTPUTS["translation_lstm_bahdanau"]["predict"]
