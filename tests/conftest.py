"""Shared pytest fixtures."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """`gpu` checks selected on a machine without CUDA (`pytest -m gpu` on a laptop) are
    skipped with the reason, instead of failing deep inside Lightning."""
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device (torch.cuda.is_available() is False)")
    for item in items:
        if item.get_closest_marker("gpu") is not None:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The folder holding the real corpora (`multi30k/`, ...): $ENCDEC_DATA_DIR, else ../shared/data."""
    path = Path(os.environ.get("ENCDEC_DATA_DIR") or REPO_ROOT.parent / "shared" / "data")
    if not (path / "multi30k").is_dir():
        pytest.fail(f"No multi30k/ folder in {path}; set ENCDEC_DATA_DIR to the data folder.")
    return path


@pytest.fixture(scope="session", autouse=True)
def torch_single_thread() -> Iterator[None]:
    """One intra-op thread in the test process (restored afterwards).

    With the small tensors of tests, thread hand-offs cost far more than the work; on a busy
    2-core machine they made the model/decoding tests over 10x slower. CLI tests run in
    subprocesses and keep torch's default.
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def summarizer_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A summarizer's model file, its data=text_pairs (tests.support.helpers.summarizer_model_file)."""
    from tests.support.helpers import summarizer_model_file

    return summarizer_model_file(tmp_path_factory.mktemp("summarizer"))


@pytest.fixture(scope="session")
def retriever_file(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
    """An untrained retriever's model file (tests.support.helpers.retriever_model_file)."""
    from tests.support.helpers import retriever_model_file

    return retriever_model_file(tmp_path_factory.mktemp("retriever"), data_dir)
