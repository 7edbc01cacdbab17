"""bench/open_qa.py runs as documented on a tiny SQuAD folder: BM25 + a reader, the reader on each
question's own paragraph, and (with --encoder) the dense and hybrid rows."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.bench.test_bench_retrieval import squad_folder
from tests.support.helpers import QA_CKPT, run_bench

#: Subprocess runs: `make test-slow`.
pytestmark = pytest.mark.slow


def bench(*args: str) -> subprocess.CompletedProcess:
    return run_bench("open_qa.py", *args, timeout=300)


def test_bm25_dense_and_hybrid_rows_with_a_reader(tmp_path: Path) -> None:
    from encdec import build
    from tests.support.helpers import compose_train

    folder = squad_folder(tmp_path)
    cfg = compose_train(
        ["task=retrieval", f"data.data_dir={folder}", "model.embedding_dim=8", "model.hidden_dim=4"],
        output_dir=tmp_path,
    )  # fmt: skip
    retriever = build.write_model_file(build.assemble(cfg).task, tmp_path / "retriever.pt")
    done = bench("--data-dir", str(folder), "--reader", str(QA_CKPT), "--encoder", str(retriever),
                 "--k", "2")  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    rows = {
        line.split(" | ")[0][2:]: line for line in done.stdout.splitlines() if line.startswith("| ")
    }
    assert set(rows) >= {"BM25", "dense", "hybrid (RRF)", "(its own paragraph)"}
    # 3 dev questions over 5 paragraphs, each naming its paragraph's topic: BM25 finds all
    assert rows["BM25"].startswith("| BM25 | 1.000 | ")
    assert (
        "SQuAD-open over SQuAD's own paragraphs: 3 dev questions, 5 paragraphs, k=2" in done.stdout
    )


def test_a_reader_that_is_not_a_reader_is_one_line(tmp_path: Path) -> None:
    from tests.support.helpers import TRANSLATION_MODEL

    done = bench("--data-dir", str(squad_folder(tmp_path)), "--reader", str(TRANSLATION_MODEL))
    assert done.returncode != 0
    assert done.stderr.strip() == f"{TRANSLATION_MODEL}: a translation model, not a qa model."
