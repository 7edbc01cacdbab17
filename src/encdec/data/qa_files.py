"""A user's question-answering data on disk -> rows in the layout of the hub's `squad` dataset.

Two formats (`data.source.format`): the official SQuAD v1.1 JSON (`squad_json`: one object,
`data -> paragraphs -> qas`, as in `dev-v1.1.json`), and JSON lines (`jsonl`: one question a
line) whose field names `data.source.fields` maps, nested fields by a dotted path. Either becomes
rows `{id, title, context, question, answers: {text: [...], answer_start: [...]}}` in file order:
what the QA datamodule reads (encdec.data.sources.QAFiles). Every error names the file and the record
(line, or JSON path and question id) and says how to fix it (DataError).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from encdec.data.formats import dig
from encdec.data.readers import json_lines, read_json
from encdec.errors import DataError

QA_FORMATS = ("jsonl", "squad_json")
#: The field names of the hub's `squad` layout (this project's squad/*.jsonl), by role.
DEFAULT_FIELDS = {
    "id": "id",
    "title": "title",
    "context": "context",
    "question": "question",
    "answers": "answers",
    "answer_text": "text",
    "answer_start": "answer_start",
}
SQUAD_JSON_HINT = (
    'A SQuAD v1.1 file is one JSON object {"data": [{"title": ..., "paragraphs": '
    '[{"context": ..., "qas": [{"id": ..., "question": ..., "answers": [{"text": ..., '
    '"answer_start": ...}]}]}]}]}; for one question a line use data.source.format=jsonl.'
)


def read_qa_file(
    path: Path, format: str = "squad_json", fields: Mapping[str, str] | None = None
) -> Iterator[dict[str, Any]]:
    """Every question of `path` as a squad-layout row (see the module docstring), each id once."""
    if format not in QA_FORMATS:
        raise DataError(f"data.source.format={format!r}: choose one of {', '.join(QA_FORMATS)}.")
    if format == "squad_json":
        rows = squad_json_rows(path)
    else:
        rows = jsonl_rows(path, {**DEFAULT_FIELDS, **(fields or {})})
    seen: set[str] = set()
    for row in rows:
        if row["id"] in seen:
            raise DataError(
                f"{path}: question id {row['id']!r} occurs twice; every question needs its own "
                f"id (answers are scored by id)."
            )
        seen.add(row["id"])
        yield row
    if not seen:
        raise DataError(f"{path} holds no questions: every split needs at least one.")


def squad_row(
    where: str, qid: Any, title: Any, context: Any, question: Any, answers: list[tuple[Any, Any]]
) -> dict[str, Any]:
    """A checked row; `where` names the record in errors (file and line or JSON path)."""
    for name, value in (("context", context), ("question", question)):
        if not isinstance(value, str):
            raise DataError(f"{where}: the {name} is {type(value).__name__}, not text.")
    if not answers:
        raise DataError(
            f"{where} (question {qid}): no answers. Every question needs at least one answer "
            f"span (SQuAD v2.0's unanswerable questions are not supported: leave them out)."
        )
    texts, starts = [], []
    for i, (text, start) in enumerate(answers):
        if not isinstance(text, str) or isinstance(start, bool) or not isinstance(start, int):
            raise DataError(
                f"{where} (question {qid}), answer {i}: text {text!r} and answer_start {start!r} "
                f"must be a string and an integer (the answer's first character in the context)."
            )
        if not 0 <= start <= start + len(text) <= len(context):
            raise DataError(
                f"{where} (question {qid}), answer {i}: answer_start={start} with the "
                f"{len(text)}-character text {text!r} lies outside the {len(context)}-character "
                f"context. answer_start counts characters (not bytes or words) from 0: fix it."
            )
        texts.append(text)
        starts.append(start)
    return {
        "id": str(qid),
        "title": "" if title is None else str(title),
        "context": context,
        "question": question,
        "answers": {"text": texts, "answer_start": starts},
    }


# -- the official SQuAD v1.1 JSON -----------------------------------------------------------------
def squad_json_rows(path: Path) -> Iterator[dict[str, Any]]:
    root = read_json(path, SQUAD_JSON_HINT)

    def expect(value: Any, kind: type, where: str, what: str) -> Any:
        if not isinstance(value, kind):
            raise DataError(
                f"{path}: {where} is {type(value).__name__}, not {what}: not the SQuAD v1.1 "
                f"layout. {SQUAD_JSON_HINT}"
            )
        return value

    def field(record: Any, key: str, where: str) -> Any:
        if key not in record:
            raise DataError(
                f"{path}: {where} has no {key!r} field (it has {sorted(record)}): not the SQuAD "
                f"v1.1 layout. {SQUAD_JSON_HINT}"
            )
        return record[key]

    expect(root, dict, "the top level", "an object")
    for a, article in enumerate(
        expect(field(root, "data", "the top level"), list, "data", "a list")
    ):
        at = f"data[{a}]"
        expect(article, dict, at, "an object")
        paragraphs = expect(field(article, "paragraphs", at), list, f"{at}.paragraphs", "a list")
        for p, paragraph in enumerate(paragraphs):
            pt = f"{at}.paragraphs[{p}]"
            expect(paragraph, dict, pt, "an object")
            context = field(paragraph, "context", pt)
            for q, qa in enumerate(
                expect(field(paragraph, "qas", pt), list, f"{pt}.qas", "a list")
            ):
                qt = f"{pt}.qas[{q}]"
                expect(qa, dict, qt, "an object")
                answers = expect(field(qa, "answers", qt), list, f"{qt}.answers", "a list")
                spans = []
                for i, answer in enumerate(answers):
                    expect(answer, dict, f"{qt}.answers[{i}]", "an object")
                    spans.append(
                        (field(answer, "text", f"{qt}.answers[{i}]"),
                         field(answer, "answer_start", f"{qt}.answers[{i}]"))
                    )  # fmt: skip
                qid = field(qa, "id", qt)
                question = field(qa, "question", qt)
                yield squad_row(
                    f"{path}: {qt}", qid, article.get("title"), context, question, spans
                )


# -- JSON lines with configurable fields ---------------------------------------------------------
def answer_spans(value: Any, context: str, fields: Mapping[str, str], where: str) -> list:
    """(text, start) pairs from any of: {text: [...], answer_start: [...]} (the hub's layout),
    [{text, answer_start}, ...], one {text, answer_start}, or a bare string (its first occurrence
    in the context)."""
    text_key, start_key = fields["answer_text"], fields["answer_start"]
    if isinstance(value, str):
        start = context.find(value)
        if start < 0:
            raise DataError(
                f"{where}: the answer {value!r} does not occur in the context. Give its position "
                f"as {{{text_key!r}: ..., {start_key!r}: ...}}, or fix the text."
            )
        return [(value, start)]
    items = value if isinstance(value, list) else [value]
    if isinstance(value, dict) and isinstance(value.get(text_key), list):  # the hub's layout
        texts, starts = value[text_key], value.get(start_key)
        if not isinstance(starts, list) or len(starts) != len(texts):
            raise DataError(
                f"{where}: the answers' {text_key!r} and {start_key!r} must be lists of the same "
                f"length (one start per answer text)."
            )
        return list(zip(texts, starts, strict=True))
    spans = []
    for item in items:
        if not isinstance(item, dict) or text_key not in item or start_key not in item:
            raise DataError(
                f"{where}: each answer needs the fields {text_key!r} and {start_key!r} (got "
                f"{item!r}). Name yours with data.source.fields.answer_text / data.source.fields.answer_start."
            )
        spans.append((item[text_key], item[start_key]))
    return spans


def jsonl_rows(path: Path, fields: Mapping[str, str]) -> Iterator[dict[str, Any]]:
    """One SQuAD row per line of a JSON-lines file (dotted field names as `formats.dig`)."""
    hint = (
        "data.source.format=jsonl reads one JSON object a line; for the official nested SQuAD "
        "file use data.source.format=squad_json."
    )
    for number, record in json_lines(path, hint):
        where = f"{path}, line {number}"
        if not isinstance(record, dict):
            raise DataError(f"{where}: a JSON {type(record).__name__}, not an object.")
        values = {}
        for role in ("context", "question", "answers", "id", "title"):
            name = fields.get(role)
            try:
                values[role] = dig(record, name) if name else None
            except KeyError:
                if role == "title":
                    values[role] = None
                    continue
                if role == "id":
                    values[role] = f"line-{number}"
                    continue
                raise DataError(
                    f"{where}: no field {name!r} (the {role}; the record has "
                    f"{sorted(record)}). Name it with data.source.fields.{role}=<field> (a dotted "
                    f"path for a nested field, e.g. data.source.fields.{role}=item.{role})."
                ) from None
        if not isinstance(values["context"], str):
            raise DataError(f"{where}: the context ({fields['context']!r}) is not text.")
        spans = answer_spans(values["answers"], values["context"], fields, where)
        yield squad_row(
            where, values["id"], values["title"], values["context"], values["question"], spans
        )
