"""Files of texts with ids, as embed.py, index.py and ask.py read them.

Plain text: one text per line, its id the line number (from 1). A name ending in `.jsonl`
(`.jsonl.gz`): JSON lines {"id": ..., "<field>": ...} (no id: the line number), the field being
"text" (embed.py, passages) or "question" (ask.py). Lines are read as predict.py reads them
(`encdec.inference.inputs`): a line that cannot be used is warned about on stderr, naming it and
what happens to it, and comes out as the empty text.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, NamedTuple, cast

from encdec.errors import ConfigError
from encdec.inference import inputs
from encdec.retrieval.index import file_sha256

Warn = Callable[[int, str], None]


def is_json_lines(path: Path) -> bool:
    return path.name.removesuffix(".gz").endswith(".jsonl")


def text_format(field: str) -> str:
    """How to write such a file, for messages."""
    return (
        f'write one {field} per line, or JSON lines {{"id": "...", "{field}": "..."}} in a '
        f".jsonl file"
    )


def json_text(raw: bytes, number: int, field: str, fate: str) -> tuple[str, str, str | None]:
    """(id, text, problem) of a JSON line {"id", field}; "" and the problem when unusable.
    `fate` says what becomes of an unusable line (e.g. "its vector is zeros")."""
    text, problem = inputs.decode_line(raw)
    if problem is not None:
        return str(number), "", f"{problem}; {fate}. {inputs.REENCODE}"
    text = text.removeprefix("\ufeff")
    if inputs.is_blank(text):
        return str(number), "", None
    try:
        item = json.loads(text)
    except Exception as err:  # JSONDecodeError, RecursionError, over-long integers
        reason = err.msg if isinstance(err, json.JSONDecodeError) else type(err).__name__
        return str(number), "", f"not JSON ({reason}); {text_format(field)}; {fate}."
    if not isinstance(item, dict) or not isinstance(item.get(field), str):
        return str(number), "", f'no "{field}" string; {text_format(field)}; {fate}.'
    found = item.get("id", number)
    if (
        isinstance(found, bool)
        or not isinstance(found, str | int)
        or inputs.lone_surrogate(str(found))
    ):
        return str(number), "", f'"id" must be a string or a whole number; {fate}.'
    source = inputs.source_line(item[field])
    problem = source.problem.replace(inputs.EMPTY_OUTPUT, fate) if source.problem else None
    return inputs.one_line(str(found)), source.text, problem


def numbered_texts(
    stream: IO[bytes], json_lines: bool, warn: Warn, field: str = "text", fate: str = ""
) -> Iterator[tuple[str, str]]:
    """(id, text) of every input line ("" for a blank or unusable one, warned about)."""
    fate = fate or inputs.EMPTY_OUTPUT
    for number, raw in enumerate(inputs.read_lines(stream), start=1):
        if json_lines:
            text_id, text, problem = json_text(raw, number, field, fate)
        else:
            source = inputs.source_line(raw, first=number == 1)
            text_id, text = str(number), source.text
            problem = source.problem.replace(inputs.EMPTY_OUTPUT, fate) if source.problem else None
        if problem is not None:
            warn(number, problem)
        yield text_id, text


def open_texts(path: Path, what: str) -> IO[bytes]:
    """A file of texts opened for reading bytes (through gzip for a `.gz` name); one line
    (FileNotFoundError / ConfigError) when it cannot be."""
    if not path.is_file():
        raise FileNotFoundError(f"{what}={path}: no such file.")
    try:
        stream: IO[bytes] = path.open("rb")
    except OSError as err:
        raise ConfigError(f"{what}={path}: cannot read it ({err.strerror}).") from None
    if path.suffix == ".gz":
        return cast(IO[bytes], gzip.GzipFile(fileobj=stream))
    return stream


class Collection(NamedTuple):
    """The passages of a collection file: their ids and texts (blank and unusable lines left
    out, warned about) and the file's SHA-256, which an index built from it records."""

    ids: list[str]
    texts: list[str]
    sha256: str


def read_collection(path: Path, warn: Warn) -> Collection:
    """The passages of `path` (plain text or .jsonl {"id", "text"}); one line when there are
    none, since nothing can be found in an empty collection."""
    ids, texts = [], []
    with open_texts(path, "passages") as stream:
        try:
            for text_id, text in numbered_texts(
                stream, is_json_lines(path), warn, "text", "the passage is left out"
            ):
                if text:
                    ids.append(text_id)
                    texts.append(text)
        except (OSError, EOFError) as err:  # e.g. a truncated or corrupt .gz
            raise ConfigError(f"passages={path}: cannot read it ({err}).") from None
    if not texts:
        raise ConfigError(
            f"passages={path} holds no passage: {text_format('text')}, one passage each."
        )
    return Collection(ids, texts, file_sha256(path))
