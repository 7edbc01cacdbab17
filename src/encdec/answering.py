"""Answering questions about paragraphs with a trained reader (QATask): what predict.py and the
server share. Contexts longer than `inputs.MAX_CONTEXT_TOKENS` tokens are cut to their start,
questions to their first `inputs.MAX_QUESTION_TOKENS` tokens (`length_warnings` says so)."""

from __future__ import annotations

import datasets

from encdec import inputs
from encdec.data.squad import QADataset, encode_qa
from encdec.tasks.qa import QATask, Span


def answer_spans(task: QATask, items: list[dict[str, str]]) -> list[Span]:
    """The best span of each {"context", "question"} item's context, answered together."""
    tok = task.tokenizer
    contexts, questions = [i["context"] for i in items], [i["question"] for i in items]
    columns = encode_qa(
        tok,
        contexts,
        questions,
        max_passage_len=inputs.MAX_CONTEXT_TOKENS,
        max_question_len=inputs.MAX_QUESTION_TOKENS,
    )
    columns.update(
        id=[str(i) for i in range(len(items))],
        question=questions,
        context=contexts,
        answers=[{"text": [], "answer_start": []} for _ in items],
    )
    ds = QADataset(
        datasets.Dataset.from_dict(columns), with_text=True, pad_id=tok.token_to_id("<pad>")
    )
    return task.spans(ds.collate(list(range(len(items)))))


def answer(task: QATask, items: list[dict[str, str]]) -> list[str]:
    """Answer each {"context", "question"} item with a span of its context."""
    return [span.text for span in answer_spans(task, items)]


def length_warnings(task: QATask, context: str | None, question: str | None) -> list[str]:
    """What `answer` will cut of this context and question."""
    found = []
    for text, limit, what in (
        (context, inputs.MAX_CONTEXT_TOKENS, "context tokens"),
        (question, inputs.MAX_QUESTION_TOKENS, "question tokens"),
    ):
        length = len(task.tokenizer.encode(text or "", add_special_tokens=False).ids)
        if length > limit:
            found.append(inputs.truncated(length, limit, what))
    return found
