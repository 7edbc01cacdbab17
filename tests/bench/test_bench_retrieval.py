"""bench/retrieval.py runs as documented on a tiny SQuAD folder; --encoder answers in one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

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
                        "answers": {},
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
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    return subprocess.run(
        [sys.executable, str(REPO / "bench" / "retrieval.py"), *args],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip


def test_bm25_rows_for_both_collections(tmp_path: Path) -> None:
    folder = squad_folder(tmp_path)
    done = bench("--data-dir", str(folder))
    assert done.returncode == 0, done.stderr
    rows = [line for line in done.stdout.splitlines() if "| BM25 |" in line]
    assert len(rows) == 2
    assert rows[0].startswith("| dev (3 paragraphs) | BM25 | 1.000 | 1.000 | 1.000 | 1.000 |")
    assert rows[1].startswith("| open (5 paragraphs) | BM25 | 1.000 | 1.000 | 1.000 | 1.000 |")
    assert f"(command: python {REPO / 'bench' / 'retrieval.py'} --data-dir {folder})" in done.stdout


def test_encoder_option_is_announced_in_one_line(tmp_path: Path) -> None:
    done = bench("--data-dir", str(squad_folder(tmp_path)), "--encoder", "model.pt")
    assert done.returncode != 0
    assert done.stderr.strip().splitlines() == [
        "--encoder model.pt: dense retrieval comes with task=retrieval (issue 29); for now this "
        "benchmark runs BM25 only (leave out --encoder)."
    ]


def test_dense_and_hybrid_rows_with_a_stand_in_encoder(tmp_path: Path, capsys) -> None:
    """What --encoder will run once task=retrieval loads a model: here a bag-of-words encoder."""
    import importlib.util

    import numpy as np

    from encdec.retrieval.squad_pairs import read_squad_pairs

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

    pairs = read_squad_pairs(squad_folder(tmp_path) / "validation.jsonl")
    module.run("dev", pairs, (bag_of_words, bag_of_words, "h" * 64, "mean"), threads=1)
    rows = capsys.readouterr().out.splitlines()
    assert [r.split(" | ")[1] for r in rows] == ["BM25", "dense", "hybrid (RRF)"]
    assert all(" | 1.000 | 1.000 | 1.000 | 1.000 | " in r for r in rows)
