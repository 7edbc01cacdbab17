"""SQuAD as a retrieval set: each question -> the paragraph it was written on.

Reads SQuAD JSON lines in the hub's layout (one question a line: id, title, context, question,
answers). Paragraphs are told apart by their text: one passage per distinct context, numbered in
order of first appearance. Measured on the shared copy: train 87,599 questions over 18,891
paragraphs; dev 10,570 over 2,067; train and dev share none, so the open collection of both holds
20,958.

(Groundwork for issue 29: the data layer's SQuAD source will take this over.)
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from encdec.errors import DataError

FIELDS = ("id", "title", "context", "question")


@dataclass(frozen=True)
class SquadPairs:
    """Questions and the passage collection they are asked over.

    questions, question_ids: (Q,); gold: (Q,) int64, the number of each question's paragraph in
    `passages`; passages, titles: (N,) distinct paragraphs and their articles' titles.
    """

    question_ids: list[str]
    questions: list[str]
    gold: np.ndarray
    passages: list[str]
    titles: list[str]

    def with_passages(self, other: SquadPairs) -> SquadPairs:
        """The same questions over a larger collection: these passages, then other's not already
        here (questions' gold numbers unchanged)."""
        number = {p: i for i, p in enumerate(self.passages)}
        passages, titles = list(self.passages), list(self.titles)
        for text, title in zip(other.passages, other.titles, strict=True):
            if text not in number:
                number[text] = len(passages)
                passages.append(text)
                titles.append(title)
        return SquadPairs(self.question_ids, self.questions, self.gold, passages, titles)


def _rows(path: Path) -> Iterator[tuple[int, dict]]:
    if not path.is_file():
        raise DataError(
            f"SQuAD file not found: {path}. Give the folder holding train.jsonl and validation.jsonl."
        )
    with path.open(encoding="utf-8") as f:
        for line_no, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise DataError(
                    f"{path}:{line_no}: not JSON ({err.msg}); each line must be one SQuAD question."
                ) from None
            if not isinstance(row, dict):
                raise DataError(
                    f"{path}:{line_no}: a JSON {type(row).__name__}, not an object with {list(FIELDS)}."
                )
            for name in FIELDS:
                if not isinstance(row.get(name), str):
                    raise DataError(
                        f"{path}:{line_no}: field {name!r} must be text, got {row.get(name)!r:.60}."
                    )
            yield line_no, row


def read_squad_pairs(path: str | Path) -> SquadPairs:
    """Question -> paragraph pairs of one SQuAD JSON lines file, over its distinct paragraphs."""
    path = Path(path)
    number: dict[str, int] = {}
    question_ids: list[str] = []
    questions: list[str] = []
    gold: list[int] = []
    passages: list[str] = []
    titles: list[str] = []
    for _, row in _rows(path):
        context = row["context"]
        if context not in number:
            number[context] = len(passages)
            passages.append(context)
            titles.append(row["title"])
        question_ids.append(row["id"])
        questions.append(row["question"])
        gold.append(number[context])
    if not questions:
        raise DataError(f"{path} holds no questions: give a SQuAD JSON lines file.")
    return SquadPairs(question_ids, questions, np.asarray(gold, np.int64), passages, titles)
