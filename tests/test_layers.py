"""Imports run one way: the library never imports the CLI, the models never Lightning or Hydra."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support.behaviour_runs import LEGACY

SRC = Path(__file__).resolve().parents[1] / "src"


def imported_after(code: str) -> set[str]:
    """The top-level module names and encdec modules imported by running `code` afresh."""
    probe = f"{code}\nimport sys\nprint(' '.join(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    return set(result.stdout.split())


def test_loading_a_model_file_does_not_import_the_cli() -> None:
    modules = imported_after(
        f"import encdec\nencdec.load({str(LEGACY / 'translation_lstm_bahdanau.pt')!r})"
    )
    assert "encdec.build" in modules
    assert not {m for m in modules if m.startswith("encdec.cli")}


def test_the_models_and_decoding_are_plain_pytorch() -> None:
    modules = imported_after("import encdec.models, encdec.decoding")
    assert not {m for m in modules if m.split(".")[0] in ("lightning", "hydra", "omegaconf")}
