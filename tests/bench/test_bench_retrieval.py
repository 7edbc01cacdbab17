"""bench/retrieval.py runs as documented on a tiny SQuAD folder, with and without --encoder."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.support.helpers import run_bench

#: Subprocess runs of the CLI or the server: `make test-slow`.
pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]


def squad_folder(tmp_path: Path) -> Path:
    def rows(prefix: str, topics: list[str]) -> str:
        lines = []
        for i, topic in enumerate(topics):
            context = f"The {topic} is described in this paragraph about {topic} number {i}."
            lines.append(
                json.dumps(
                    {
                        "id": f"{prefix}{i}",
                        "title": topic,
                        "context": context,
                        "question": f"What is the {topic}?",
                        "answers": {"text": [topic], "answer_start": [4]},
                    }
                )  # fmt: skip
            )
        return "\n".join(lines) + "\n"

    folder = tmp_path / "squad"
    folder.mkdir()
    (folder / "validation.jsonl").write_text(rows("d", ["violin", "glacier", "harbour"]))
    (folder / "train.jsonl").write_text(rows("t", ["volcano", "lighthouse"]))
    return folder


def bench(*args: str) -> subprocess.CompletedProcess:
    return run_bench("retrieval.py", *args, timeout=120)


def test_bm25_rows_for_both_collections(tmp_path: Path) -> None:
    folder = squad_folder(tmp_path)
    done = bench("--data-dir", str(folder))
    assert done.returncode == 0, done.stderr
    rows = [line for line in done.stdout.splitlines() if "| BM25 |" in line]
    assert len(rows) == 2
    assert rows[0].startswith("| dev (3 paragraphs) | BM25 | 1.000 | 1.000 | 1.000 | 1.000 |")
    assert rows[1].startswith("| open (5 paragraphs) | BM25 | 1.000 | 1.000 | 1.000 | 1.000 |")
    assert f"(command: python {REPO / 'bench' / 'retrieval.py'} --data-dir {folder})" in done.stdout


def test_encoder_that_is_not_a_retriever_is_one_line(tmp_path: Path) -> None:
    from tests.support.helpers import TRANSLATION_MODEL

    folder = squad_folder(tmp_path)
    done = bench("--data-dir", str(folder), "--encoder", str(TRANSLATION_MODEL))
    assert done.returncode != 0
    assert done.stderr.strip().splitlines() == [
        f"--encoder {TRANSLATION_MODEL}: a translation model, not a retriever; give a model "
        f"trained with task=retrieval."
    ]
    done = bench("--data-dir", str(folder), "--encoder", str(tmp_path / "missing.pt"))
    assert done.returncode != 0 and len(done.stderr.strip().splitlines()) == 1
    assert done.stderr.startswith(f"--encoder {tmp_path / 'missing.pt'}: ")


def test_encoder_rows_of_a_retrieval_model_file(tmp_path: Path) -> None:
    """A (here untrained) task=retrieval model file adds the dense and hybrid rows."""
    from encdec import build
    from tests.support.helpers import compose_train

    folder = squad_folder(tmp_path)
    cfg = compose_train(
        [
            "task=retrieval",
            f"data.data_dir={folder}",
            "model.embedding_dim=8",
            "model.hidden_dim=4",
        ],
        output_dir=tmp_path,
    )
    model = build.write_model_file(build.assemble(cfg).task, tmp_path / "retriever.pt")
    done = bench("--data-dir", str(folder), "--collections", "dev", "--encoder", str(model))
    assert done.returncode == 0, done.stderr
    rows = [line.split(" | ")[1] for line in done.stdout.splitlines() if "| dev (3" in line]
    assert rows == ["BM25", "dense", "hybrid (RRF)", "hybrid (interpolation)"]


def test_dense_and_hybrid_rows_with_a_stand_in_encoder(tmp_path: Path, capsys) -> None:
    """What --encoder will run once task=retrieval loads a model: here a bag-of-words encoder."""
    import importlib.util

    import numpy as np

    from encdec.data.retrieval import read_retrieval_set
    from encdec.data.sources import QAFiles

    spec = importlib.util.spec_from_file_location(
        "bench_retrieval", REPO / "bench" / "retrieval.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    def bag_of_words(texts):
        vectors = np.zeros((len(texts), 64), np.float32)
        for i, text in enumerate(texts):
            for word in text.lower().strip("?.").split():
                vectors[i, sum(map(ord, word)) % 64] += 1.0
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    pairs = read_retrieval_set(QAFiles(), "validation", squad_folder(tmp_path))
    module.run("dev", pairs, (bag_of_words, bag_of_words, "h" * 64, "mean"), threads=1)
    rows = capsys.readouterr().out.splitlines()
    assert [r.split(" | ")[1] for r in rows] == [
        "BM25", "dense", "hybrid (RRF)", "hybrid (interpolation)"
    ]  # fmt: skip
    assert all(" | 1.000 | 1.000 | 1.000 | 1.000 | " in r for r in rows)


def test_the_interpolation_weight_of_each_half_is_chosen_on_the_other() -> None:
    """Questions on even paragraphs are answered by BM25, those on odd ones by the dense side:
    each half gets the weight that suits the other half, so every question ranks its paragraph
    second (a weight chosen on the question itself would rank it first)."""
    import importlib.util

    import numpy as np

    from encdec.retrieval.metrics import evaluate, gold_ranks
    from encdec.retrieval.ranking import Ranking

    spec = importlib.util.spec_from_file_location(
        "bench_retrieval", REPO / "bench" / "retrieval.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    gold = np.array([2, 3, 4, 5])
    other = gold - 1  # a wrong paragraph, numbered lower: a tie (w=0.5) goes its way
    right, wrong = np.stack([gold, other], 1), np.stack([other, gold], 1)
    even = (gold % 2 == 0)[:, None]
    scores = np.tile(np.array([[2.0, 1.0]], np.float32), (4, 1))
    sparse = Ranking(ids=np.where(even, right, wrong), scores=scores)  # right on even paragraphs
    dense = Ranking(ids=np.where(even, wrong, right), scores=scores)  # right on odd ones
    fused, weights = module.cross_fitted_interpolation(sparse, dense, gold)
    assert weights == [0.1, 0.6]  # even half: dense-heavy (from the odd half), and vice versa
    assert gold_ranks(fused.ids, gold).tolist() == [2, 2, 2, 2]
    assert evaluate(gold_ranks(fused.ids, gold), depth=fused.depth).mrr == 0.5
