"""SQuAD JSON lines -> question -> paragraph pairs over the distinct paragraphs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from encdec.errors import DataError
from encdec.retrieval.squad_pairs import read_squad_pairs


def write_rows(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def row(qid: str, title: str, context: str, question: str) -> dict:
    return {"id": qid, "title": title, "context": context, "question": question, "answers": {}}


def test_questions_point_at_distinct_paragraphs(tmp_path: Path) -> None:
    path = write_rows(
        tmp_path / "dev.jsonl",
        [
            row("q1", "A", "Paragraph one.", "First?"),
            row("q2", "A", "Paragraph one.", "Second?"),
            row("q3", "B", "Paragraph two.", "Third?"),
            row("q4", "A", "Paragraph one.", "Fourth?"),
        ],
    )
    pairs = read_squad_pairs(path)
    assert pairs.question_ids == ["q1", "q2", "q3", "q4"]
    assert pairs.passages == ["Paragraph one.", "Paragraph two."]
    assert pairs.titles == ["A", "B"]
    assert pairs.gold.tolist() == [0, 0, 1, 0]
    other = write_rows(
        tmp_path / "train.jsonl",
        [row("t1", "C", "Paragraph three.", "?"), row("t2", "B", "Paragraph two.", "?")],
    )
    both = pairs.with_passages(read_squad_pairs(other))
    assert both.passages == ["Paragraph one.", "Paragraph two.", "Paragraph three."]
    assert both.titles == ["A", "B", "C"]
    assert both.questions == pairs.questions and both.gold.tolist() == [0, 0, 1, 0]


def test_bad_lines_name_the_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(row("q1", "A", "p", "q")) + "\n{oops\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"bad.jsonl:2: not JSON"):
        read_squad_pairs(bad)
    bad.write_text(json.dumps({"id": "q", "title": "t", "context": 3, "question": "q"}) + "\n")
    with pytest.raises(DataError, match=r"bad.jsonl:1: field 'context' must be text"):
        read_squad_pairs(bad)
    bad.write_text("\n")
    with pytest.raises(DataError, match="holds no questions"):
        read_squad_pairs(bad)
    with pytest.raises(DataError, match="SQuAD file not found"):
        read_squad_pairs(tmp_path / "missing.jsonl")


def test_real_dev_set_counts(data_dir: Path) -> None:
    dev = read_squad_pairs(data_dir / "squad" / "validation.jsonl")
    assert (len(dev.questions), len(dev.passages)) == (10570, 2067)
    assert dev.passages[dev.gold[0]].startswith("Super Bowl 50 was an American football game")


@pytest.mark.slow
def test_real_open_collection_counts(data_dir: Path) -> None:
    train = read_squad_pairs(data_dir / "squad" / "train.jsonl")
    assert (len(train.questions), len(train.passages)) == (87599, 18891)
    dev = read_squad_pairs(data_dir / "squad" / "validation.jsonl")
    assert len(dev.with_passages(train).passages) == 20958
