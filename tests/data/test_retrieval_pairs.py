"""SQuAD-style question files -> question -> paragraph retrieval sets and batches
(encdec.data.retrieval), read through the data layer's question source."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from encdec.data.retrieval import RetrievalDataModule, bm25_negatives, read_retrieval_set
from encdec.data.sources import QAFiles
from encdec.errors import ConfigError, DataError

TOPICS = ["violin", "glacier", "harbour", "volcano", "lighthouse", "orchard"]


def row(qid: str, title: str, context: str, question: str) -> dict:
    answer = context.split()[1]
    return {
        "id": qid,
        "title": title,
        "context": context,
        "question": question,
        "answers": {"text": [answer], "answer_start": [context.index(answer)]},
    }


def write_rows(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def squad_folder(tmp_path: Path) -> Path:
    """train: two questions on each of six paragraphs; validation: one on each of three."""
    folder = tmp_path / "squad"
    folder.mkdir()
    train = []
    for i, topic in enumerate(TOPICS):
        context = f"The {topic} is the subject of paragraph {i}, all about the {topic}."
        train.append(row(f"t{i}a", topic, context, f"What is the {topic}?"))
        train.append(row(f"t{i}b", topic, context, f"Which paragraph is about the {topic}?"))
    write_rows(folder / "train.jsonl", train)
    dev = [
        row(f"d{i}", t, f"A {t} appears in this dev paragraph {i}.", f"Where is the {t}?")
        for i, t in enumerate(TOPICS[:3])
    ]
    write_rows(folder / "validation.jsonl", dev)
    return folder


def test_questions_point_at_distinct_paragraphs(tmp_path: Path) -> None:
    write_rows(
        tmp_path / "dev.jsonl",
        [
            row("q1", "A", "Paragraph one.", "First?"),
            row("q2", "A", "Paragraph one.", "Second?"),
            row("q3", "B", "Paragraph two.", "Third?"),
            row("q4", "A", "Paragraph one.", "Fourth?"),
        ],
    )
    pairs = read_retrieval_set(QAFiles(pattern="{split}.jsonl"), "dev", tmp_path)
    assert pairs.question_ids == ["q1", "q2", "q3", "q4"]
    assert pairs.passages == ["Paragraph one.", "Paragraph two."]
    assert pairs.titles == ["A", "B"]
    assert pairs.gold.tolist() == [0, 0, 1, 0]
    write_rows(
        tmp_path / "train.jsonl",
        [row("t1", "C", "Paragraph three.", "?"), row("t2", "B", "Paragraph two.", "?")],
    )
    other = read_retrieval_set(QAFiles(pattern="{split}.jsonl"), "train", tmp_path)
    both = pairs.with_passages(other)
    assert both.passages == ["Paragraph one.", "Paragraph two.", "Paragraph three."]
    assert both.titles == ["A", "B", "C"]
    assert both.questions == pairs.questions and both.gold.tolist() == [0, 0, 1, 0]


def test_any_squad_format_file_works(tmp_path: Path) -> None:
    """The official nested SQuAD JSON reads into the same set as JSON lines."""
    nested = {
        "data": [
            {
                "title": "A",
                "paragraphs": [
                    {
                        "context": "Paragraph one.",
                        "qas": [
                            {"id": "q1", "question": "First?", "answers": [{"text": "one", "answer_start": 10}]},
                            {"id": "q2", "question": "Second?", "answers": [{"text": "one", "answer_start": 10}]},
                        ],
                    },
                    {
                        "context": "Paragraph two.",
                        "qas": [{"id": "q3", "question": "Third?", "answers": [{"text": "two", "answer_start": 10}]}],
                    },
                ],
            }
        ]
    }  # fmt: skip
    (tmp_path / "dev.json").write_text(json.dumps(nested), encoding="utf-8")
    pairs = read_retrieval_set(
        QAFiles(pattern="{split}.json", format="squad_json"), "dev", tmp_path
    )
    assert pairs.passages == ["Paragraph one.", "Paragraph two."]
    assert pairs.gold.tolist() == [0, 0, 1]


def test_a_missing_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="QA data file not found: .*nowhere.jsonl"):
        read_retrieval_set(QAFiles(pattern="{split}.jsonl"), "nowhere", tmp_path)


def test_bm25_negatives_are_wrong_paragraphs_ranked_high() -> None:
    from encdec.data.retrieval import RetrievalSet

    pairs = RetrievalSet(
        ["a", "b"],
        ["violin strings", "glacier ice"],
        np.array([0, 1]),
        ["violin strings and bows", "glacier ice and snow", "violin makers glacier"],
        ["", "", ""],
    )
    assert bm25_negatives(pairs).tolist() == [2, 2]


def datamodule(folder: Path, tmp_path: Path, **options) -> RetrievalDataModule:
    dm = RetrievalDataModule(
        QAFiles(pattern="{split}.jsonl"),
        str(folder),
        {"train": "train", "val": "validation"},
        cache_dir=str(tmp_path / "cache"),
        max_tokens=10_000,
        **options,
    )
    dm.prepare_data()
    dm.setup()
    return dm


def test_training_batches_pair_questions_with_their_paragraphs_and_hard_negatives(
    tmp_path: Path,
) -> None:
    dm = datamodule(squad_folder(tmp_path), tmp_path, hard_negatives="bm25")
    train = dm.datasets["train"]
    batch = train.collate(list(range(len(train))))
    assert batch.question.shape[0] == 12
    assert batch.passage.shape[0] == 24  # 12 paragraphs of the questions, 12 hard negatives
    assert batch.passage_ids[:12].tolist() == batch.gold.tolist() == [i // 2 for i in range(12)]
    negatives = batch.passage_ids[12:]
    assert bool((negatives != batch.gold).all())  # never the question's own paragraph
    tok = dm.tokenizer
    first = tok.decode(batch.passage[0, : batch.passage_lengths[0]].tolist())
    assert first == "the violin is the subject of paragraph 0 , all about the violin ."
    loaded = next(iter(dm.train_dataloader()))  # through the bucketed loader
    assert loaded.passage.shape[0] == 2 * loaded.question.shape[0]


def test_evaluation_holds_every_question_and_paragraph_once(tmp_path: Path) -> None:
    dm = datamodule(squad_folder(tmp_path), tmp_path)
    questions, passages, gold = [], [], []
    for batch in dm.val_dataloader():
        questions += batch.question_index.tolist()
        gold += batch.gold.tolist()
        passages += batch.passage_ids.tolist()
    assert sorted(questions) == [0, 1, 2] and sorted(passages) == [0, 1, 2]
    assert dict(zip(questions, gold, strict=True)) == {0: 0, 1: 1, 2: 2}
    assert dm.datasets["test"] is dm.datasets["val"]


def test_options_are_checked_before_reading(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="data.hard_negatives='tfidf'"):
        RetrievalDataModule(
            QAFiles(), str(tmp_path), {"train": "t", "val": "v"}, hard_negatives="tfidf"
        )
    with pytest.raises(ConfigError, match="data.splits.val is not set"):
        RetrievalDataModule(QAFiles(), str(tmp_path), {"train": "t"})
    with pytest.raises(ConfigError, match="data.tokenizer.kind='bpe'"):
        RetrievalDataModule(
            QAFiles(), str(tmp_path), {"train": "t", "val": "v"}, tokenizer={"kind": "bpe"}
        )


def test_real_dev_set_counts(data_dir: Path) -> None:
    dev = read_retrieval_set(QAFiles(pattern="{split}.jsonl"), "validation", data_dir / "squad")
    assert (len(dev.questions), len(dev.passages)) == (10570, 2067)
    assert dev.passages[dev.gold[0]].startswith("Super Bowl 50 was an American football game")


@pytest.mark.slow
def test_real_open_collection_counts(data_dir: Path) -> None:
    source = QAFiles(pattern="{split}.jsonl")
    train = read_retrieval_set(source, "train", data_dir / "squad")
    assert (len(train.questions), len(train.passages)) == (87599, 18891)
    dev = read_retrieval_set(source, "validation", data_dir / "squad")
    assert len(dev.with_passages(train).passages) == 20958
