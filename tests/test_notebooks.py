"""The teaching notebooks run top to bottom on the real data and draw their figures."""

from __future__ import annotations

import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

# make test-slow (and CI): executing both notebooks takes ~3 minutes.
pytestmark = pytest.mark.slow

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
ENCODER_WALKTHROUGH = NOTEBOOK_DIR / "encoder_walkthrough.ipynb"
TRAIN_TRANSLATE_EXPORT = NOTEBOOK_DIR / "train_translate_export.ipynb"


@pytest.mark.parametrize(
    "notebook", [ENCODER_WALKTHROUGH, TRAIN_TRANSLATE_EXPORT], ids=lambda p: p.stem
)
def test_notebook_is_saved_without_outputs(notebook: Path) -> None:
    nb = nbformat.read(notebook, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, "the notebook has no code cells"
    with_outputs = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and c.outputs]
    assert not with_outputs, f"clear the outputs of cells {with_outputs} before committing"


def test_encoder_walkthrough_runs(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Execute every cell in a fresh kernel (its own asserts check the maths) in notebooks/."""
    # The kernel inherits this process's environment: point it at the data, and take the
    # default path (quick training), not a checkpoint a developer may have set.
    monkeypatch.setenv("ENCDEC_DATA_DIR", str(data_dir))
    monkeypatch.delenv("ENCDEC_CKPT", raising=False)
    nb = nbformat.read(ENCODER_WALKTHROUGH, as_version=4)
    client = NotebookClient(
        nb,
        kernel_name="python3",
        timeout=600,
        resources={"metadata": {"path": str(NOTEBOOK_DIR)}},
    )
    start = time.perf_counter()
    client.execute()  # raises CellExecutionError (with the cell and traceback) on any error
    elapsed = time.perf_counter() - start

    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert images, "the attention heatmap was not drawn (no image/png output)"
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    for expected in ("LSTM step by hand == nn.LSTM", "packed batch == alone: True", "hypothesis:"):
        assert expected in text
    print(f"encoder_walkthrough.ipynb ran in {elapsed:.0f}s")


def test_train_translate_export_runs(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Train a small model on a real slice, export, load, translate, draw attention: no errors."""
    monkeypatch.setenv("ENCDEC_DATA_DIR", str(data_dir))
    nb = nbformat.read(TRAIN_TRANSLATE_EXPORT, as_version=4)
    client = NotebookClient(
        nb, kernel_name="python3", timeout=600, resources={"metadata": {"path": str(NOTEBOOK_DIR)}}
    )
    start = time.perf_counter()
    client.execute()  # raises CellExecutionError on any error, the notebook's asserts included
    elapsed = time.perf_counter() - start

    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert [o for o in outputs if "image/png" in o.get("data", {})], "no attention heatmap drawn"
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    for expected in ("trained in", "model.pt:", "beam 5  "):
        assert expected in text
    print(f"train_translate_export.ipynb ran in {elapsed:.0f}s")
