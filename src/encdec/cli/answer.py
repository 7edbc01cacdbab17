"""`python predict.py ckpt_path=<QA checkpoint> ...`: answer questions about paragraphs.

Input, one of:
- `question="..." context="..."` on the command line: prints the answer;
- `input=FILE`: JSON lines `{"context": ..., "question": ..., "id": ...}` (id optional);
- neither: the same JSON lines typed on stdin, each answered as soon as it is read.
Output: one JSON line per question, `{"id": ..., "question": ..., "answer": ...}`, to stdout or
`output=FILE`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path

import datasets
from omegaconf import DictConfig

from encdec.data.sources import DataError
from encdec.data.squad import QADataset, encode_qa
from encdec.tasks.qa import QATask


def answer(task: QATask, items: list[dict[str, str]]) -> list[str]:
    """Answer each {"context", "question"} item with a span of its context."""
    tok = task.tokenizer
    contexts, questions = [i["context"] for i in items], [i["question"] for i in items]
    columns = encode_qa(tok, contexts, questions)
    columns.update(
        id=[str(i) for i in range(len(items))],
        question=questions,
        context=contexts,
        answers=[{"text": [], "answer_start": []} for _ in items],
    )
    ds = QADataset(
        datasets.Dataset.from_dict(columns), with_text=True, pad_id=tok.token_to_id("<pad>")
    )
    return task.answer(ds.collate(list(range(len(items)))))


def parse(line: str, where: str) -> dict[str, str]:
    """One input line -> {"context", "question", "id"?}, or a DataError saying what is wrong."""
    try:
        item = json.loads(line)
    except json.JSONDecodeError as err:
        raise DataError(
            f"{where}: not JSON ({err.msg}). Write one object per line: "
            f'{{"context": "...", "question": "..."}}.'
        ) from None
    for key in ("context", "question"):
        if not isinstance(item, dict) or not str(item.get(key) or "").strip():
            raise DataError(
                f'{where}: "{key}" is missing or empty; every line needs a context and a question.'
            )
    return item


def read_items(lines: Iterable[str], name: str) -> Iterator[dict[str, str]]:
    for number, line in enumerate(lines, start=1):
        if line.strip():
            yield parse(line, f"{name}, line {number}")


def answer_questions(task: QATask, cfg: DictConfig, stdin_lines: Iterable[str]) -> None:
    if cfg.get("question") is not None or cfg.get("context") is not None:
        item = parse(
            json.dumps({"context": cfg.get("context"), "question": cfg.get("question")}),
            "question=/context=",
        )
        print(answer(task, [item])[0], flush=True)
        return
    if cfg.input is not None:
        path = Path(cfg.input)
        if not path.is_file():
            raise FileNotFoundError(
                f"input={cfg.input}: no such file. Give a JSON-lines file with context and question."
            )
        items = list(read_items(path.read_text(encoding="utf-8").splitlines(), str(path)))
        answers = [
            a
            for start in range(0, len(items), cfg.batch_size)
            for a in answer(task, items[start : start + cfg.batch_size])
        ]
        rows = zip(items, answers, strict=True)
    else:
        rows = ((item, answer(task, [item])[0]) for item in read_items(stdin_lines, "stdin"))
    out = open(cfg.output, "w", encoding="utf-8") if cfg.output else None  # noqa: SIM115
    try:
        for item, text in rows:
            line = json.dumps(
                {"id": item.get("id"), "question": item["question"], "answer": text},
                ensure_ascii=False,
            )
            print(line, file=out, flush=True)
    finally:
        if out is not None:
            out.close()
