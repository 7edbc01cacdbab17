"""What a trained model accepts as input, line by line: the rules of `predict.py`, of the
server and of the objects `encdec.load` returns, in one place (docs link here, see
docs/training.md#input-rules). Plain text rules; the bounds of the decoding options come from
`encdec.decoding` (`MAX_BEAM_SIZE`, `MAX_OUTPUT_LENGTH`) and the length limits from the model.

Lines
- Input is read as bytes and split on b"\\n" only; a trailing b"\\r" is dropped (Windows files).
  U+2028, U+0085, form feeds and other characters that `str.splitlines` would break on stay inside
  their line. Each line is decoded on its own, so one bad line spoils nothing else.
- **One output line per input line**, in order, always. `predict.py` writes (and flushes) the
  outputs of each batch as soon as it is answered, so a failure later on loses nothing done before.
  Line breaks inside an output (none are expected) are written as spaces.
- Blank lines (empty, or nothing but whitespace) have nothing to translate: an empty output line,
  no warning (blank lines often separate paragraphs).
- A line that cannot be used gets an empty output line (QA: an output object with `"answer": ""`
  and an `"error"`) and a one-line warning on stderr naming the line and the fix:
  not valid UTF-8 (e.g. a Latin-1 file: re-encode it as UTF-8), a lone surrogate (U+D800..U+DFFF,
  which only JSON escapes or the Python API can produce), only invisible characters
  (zero-width spaces, joiners, byte-order marks, other format or control characters), a QA line
  that cannot be parsed for any reason (not JSON, nested too deeply, a number too long for
  Python's integer-string limit...), or a line the model's tokenizer fails on (the tokenizers
  library panics on some inputs with some crafted tokenizers: that line alone is lost).
- An over-long line is **truncated with a warning**: its first `source_limit` tokens are
  translated (a Transformer's `model.max_positions`, at most `MAX_SOURCE_TOKENS` = 1024 tokens for
  any model, the RNN included). Outputs stop at the Transformer's `max_positions` tokens too.
  QA contexts are cut to their first `MAX_CONTEXT_TOKENS` tokens, questions to the model's
  trained `data.max_question_len` (64 by default), with a warning.

Options
- `beam_size` (1..64), `max_length` (1..1024 output tokens), `batch_size` (1..4096), `n_best`
  (1..64, at most the beam size) and a search's `k` (1..100) must be whole numbers in their range
  (`LIMITS`); otherwise `OptionError` (a `ConfigError`, so a ValueError) with a one-line message
  naming the option and the range. The commands print it and exit with status 1, no traceback;
  the Python API raises it. A non-string sentence given to the API is a ValueError naming its
  index.

Exit status of `predict.py`: 0 when every input line got its output line, including lines that
could not be used (their warnings say which); 1 for a mistake that stops everything before any
output (an option out of range, a missing or unreadable input file, an output that is the input
itself, an unusable checkpoint, or a command-line question/context that cannot be answered), or
for an output that cannot be written (a full disk, a closed pipe: one line naming the output;
what was written before stays, flushed).
"""

from __future__ import annotations

import json
import math
import unicodedata
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any, Literal, TypeVar, overload

from encdec.decoding.types import MAX_BEAM_SIZE, MAX_OUTPUT_LENGTH
from encdec.errors import ConfigError

T = TypeVar("T")

#: Allowed range (inclusive) of each inference option, and an example value for the messages.
LIMITS: dict[str, tuple[int, int, int]] = {
    "beam_size": (1, MAX_BEAM_SIZE, 5),
    "max_length": (1, MAX_OUTPUT_LENGTH, 80),
    "batch_size": (1, 4096, 64),
    "n_best": (1, MAX_BEAM_SIZE, 3),
    "k": (1, 100, 5),  # passages retrieved per question (a server may allow fewer)
}
#: The most source tokens any model is given (a Transformer: its max_positions, if smaller).
MAX_SOURCE_TOKENS = 1024
#: The most context tokens a QA reader is given.
MAX_CONTEXT_TOKENS = 4096

#: Characters that render as nothing although they are not whitespace (fillers, blank braille).
_INVISIBLE = frozenset("\u115f\u1160\u3164\uffa0\u2800")
#: What `str.splitlines` breaks on; an output line must hold none of them.
_LINE_BREAKS = "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"
_NO_BREAKS = str.maketrans(dict.fromkeys(_LINE_BREAKS, " "))


class OptionError(ConfigError):
    """A decoding option out of its range; the message names it and the allowed values."""


class InputWarning(UserWarning):
    """An input the model cannot use (answered with an empty output) or had to truncate."""


# -- options ------------------------------------------------------------------------------------
@overload
def check_option(
    name: str, value: Any, optional: Literal[False], most: int | None = None
) -> int: ...


@overload
def check_option(
    name: str, value: Any, optional: bool = True, most: int | None = None
) -> int | None: ...


def check_option(
    name: str, value: Any, optional: bool = True, most: int | None = None
) -> int | None:
    """`value` as a whole number within LIMITS[name] (None when optional), else OptionError.
    `most` lowers the upper bound (a server's own limit)."""
    low, high, example = LIMITS[name]
    high = high if most is None else min(high, most)
    example = min(example, high)
    if value is None and optional:
        return None
    whole = isinstance(value, int) and not isinstance(value, bool)
    if not whole or not low <= value <= high:
        null = " (or null for the model's own)" if optional else ""
        raise OptionError(
            f"{name}={value} is not allowed: it must be a whole number from {low} to {high}"
            f"{null}, e.g. {name}={example}."
        )
    return value


# -- lines --------------------------------------------------------------------------------------
def read_lines(stream: IO[bytes]) -> Iterator[bytes]:
    """The lines of a binary stream, split on b"\\n" only, without their b"\\n" / b"\\r\\n".

    Read one at a time, so a line typed on a terminal is yielded as soon as it is entered.
    "a\\nb\\n" and "a\\nb" both hold two lines.
    """
    while True:
        raw = stream.readline()
        if not raw:
            return
        if raw.endswith(b"\n"):
            raw = raw[:-1]
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        yield raw


def batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Consecutive lists of `size` items (the last may be shorter), read lazily."""
    chunk: list[T] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def decode_line(raw: bytes) -> tuple[str, str | None]:
    """(text, None), or ("", what is wrong) when `raw` is not UTF-8."""
    try:
        return raw.decode("utf-8"), None
    except UnicodeDecodeError as err:
        return "", (
            f"not valid UTF-8 (byte 0x{raw[err.start]:02x} at byte {err.start + 1} of the line)"
        )


def lone_surrogate(text: str) -> str | None:
    """The first lone surrogate code point in `text` (U+D800..U+DFFF), if any."""
    return next((c for c in text if "\ud800" <= c <= "\udfff"), None)


def is_blank(text: str) -> bool:
    """Empty, or only whitespace."""
    return not text or text.isspace()


def is_invisible(text: str) -> bool:
    """Only whitespace, format characters (zero-width space / joiners, BOM), controls, fillers."""
    return all(
        c.isspace() or c in _INVISIBLE or unicodedata.category(c) in ("Cf", "Cc", "Zl", "Zp")
        for c in text
    )


def text_problem(text: str) -> str | None:
    """Why a non-blank `text` cannot be used, or None when it can."""
    if (c := lone_surrogate(text)) is not None:
        return (
            f"holds a lone surrogate (U+{ord(c):04X}), which is not a character; write the "
            f"character itself (or a complete surrogate pair in JSON)"
        )
    if is_invisible(text):
        codes = sorted({f"U+{ord(c):04X}" for c in text if not c.isspace()})
        return f"holds only invisible characters ({', '.join(codes[:3])})"
    return None


@dataclass(frozen=True)
class Source:
    """One input line ready for the model: `text` ("" when blank or unusable) and, when it could
    not be used, `problem` (the warning, without the line's name)."""

    text: str
    problem: str | None = None


def source_line(raw: bytes | str, first: bool = False) -> Source:
    """An input line (bytes from a file or stdin, or a str) as the text to translate.

    `first`: the first line of a file, whose UTF-8 byte-order mark is dropped.
    """
    if isinstance(raw, bytes):
        text, problem = decode_line(raw)
        if problem is not None:
            return Source("", f"{problem}; {EMPTY_OUTPUT}. {REENCODE}")
    else:
        text = raw
    if first:
        text = text.removeprefix("\ufeff")
    if is_blank(text):
        return Source("")
    problem = text_problem(text)
    if problem is not None:
        return Source("", f"{problem}; {EMPTY_OUTPUT}.")
    return Source(text)


EMPTY_OUTPUT = "its output line is empty"
REENCODE = (
    "Save the input as UTF-8, e.g. iconv -f latin1 -t utf-8 input.txt > input.utf8.txt "
    "(use the file's own encoding in place of latin1)."
)


def one_line(text: str) -> str:
    """`text` with any line break replaced by a space, so it fills exactly one output line."""
    return text.translate(_NO_BREAKS)


# -- over-long inputs ---------------------------------------------------------------------------
def max_positions(net: Any) -> int | None:
    """The longest sequence `net` can take (a Transformer's position table), None for an RNN."""
    return getattr(getattr(net, "positions", None), "max_positions", None)


def source_limit(positions: int | None) -> int:
    """The most source tokens a model with `positions` (None: no limit of its own) is given."""
    return min(positions, MAX_SOURCE_TOKENS) if positions else MAX_SOURCE_TOKENS


def output_cap(max_length: int, positions: int | None) -> int:
    """An output-length cap the model can decode (a Transformer stops at its max_positions)."""
    return min(max_length, positions) if positions else max_length


def truncated(length: int, limit: int, what: str = "tokens") -> str:
    """The warning for an input of `length` tokens cut to `limit`."""
    return (
        f"{length} {what}, more than the {limit} this model reads: only the first {limit} "
        f"were used (split the line to use all of it)."
    )


# -- the Python API -----------------------------------------------------------------------------
def api_sentences(sentences: Any, empty: str = "its translation is empty") -> list[str]:
    """A `Translator`'s input as a list of texts ("" for blank or unusable ones).

    A str is one sentence. ValueError for anything but strings (naming the first bad index);
    each unusable sentence gets an InputWarning (see `warn_sentence`) ending in `empty`.
    """
    if isinstance(sentences, str):
        sentences = [sentences]
    if isinstance(sentences, (bytes, bytearray)) or not isinstance(sentences, Iterable):
        raise ValueError(
            f"sentences must be a string or a list of strings, not {type(sentences).__name__}."
        )
    texts = list(sentences)
    for i, item in enumerate(texts):
        if not isinstance(item, str):
            decode = (
                " (decode bytes first, e.g. .decode('utf-8'))" if isinstance(item, bytes) else ""
            )
            raise ValueError(
                f"sentences[{i}] is not a string but a value of type {type(item).__name__}{decode}."
            )
    out = []
    for i, text in enumerate(texts):
        source = source_line(text)
        if source.problem is not None:
            warn_sentence(i, source.problem.replace(EMPTY_OUTPUT, empty))
        out.append(source.text)
    return out


def warn_sentence(index: int, message: str) -> None:
    """An InputWarning about `sentences[index]` of a `Translator` call (attributed to the caller
    of the API method: this, decode_lines or api_sentences, the method, no_grad)."""
    warnings.warn(f"sentences[{index}]: {message}", InputWarning, stacklevel=5)


# -- question answering -------------------------------------------------------------------------
@dataclass(frozen=True)
class Question:
    """One QA input line: the item to answer, or `error` (what is wrong with the line).

    `id` and `question` are echoed in the output when they are usable (else None).
    """

    context: str = ""
    question: str | None = None
    id: Any = None
    error: str | None = None


QA_FORMAT = 'write one JSON object per line: {"context": "...", "question": "...", "id": "..."}'


def _valid_id(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, str):
        return lone_surrogate(value) is None
    if isinstance(value, float):
        return math.isfinite(value)
    return value is None or isinstance(value, int)


def _field_problem(item: dict, key: str) -> str | None:
    value = item.get(key)
    if value is None:
        return f'"{key}" is missing; every line needs a context and a question'
    if not isinstance(value, str):
        return f'"{key}" is a {_json_type(value)}, not a string'
    if is_blank(value):
        return f'"{key}" is empty; every line needs a context and a question'
    problem = text_problem(value)
    return f'"{key}" {problem}' if problem else None


def _json_type(value: Any) -> str:
    names = {bool: "boolean", int: "number", float: "number", list: "list", dict: "object"}
    return names.get(type(value), type(value).__name__)


def question_item(item: Any) -> Question:
    """A parsed JSON value as a Question (with `error` when it cannot be answered)."""
    if not isinstance(item, dict):
        return Question(error=f"not a JSON object but a {_json_type(item)}; {QA_FORMAT}")
    qid = item.get("id")
    qid = qid if _valid_id(qid) else None
    question = item.get("question")
    usable_question = question if isinstance(question, str) and not text_problem(question) else None
    for key in ("context", "question"):
        problem = _field_problem(item, key)
        if problem is not None:
            return Question(question=usable_question, id=qid, error=problem)
    if not _valid_id(item.get("id")):
        return Question(
            question=question, id=None, error='"id" must be a string or a number (or left out)'
        )
    return Question(context=item["context"], question=question, id=qid)


def question_line(raw: bytes | str) -> Question:
    """One JSON line of a QA input (bytes from a file or stdin, or a str)."""
    if isinstance(raw, bytes):
        text, problem = decode_line(raw)
        if problem is not None:
            return Question(error=f"{problem}. {REENCODE}")
    else:
        text = raw
    text = text.removeprefix("\ufeff")
    if is_blank(text):
        return Question(error=f"empty line; {QA_FORMAT}")
    try:
        item = json.loads(text)
    except json.JSONDecodeError as err:
        return Question(error=f"not JSON ({err.msg} at column {err.colno}); {QA_FORMAT}")
    except RecursionError:
        return Question(error=f"not JSON this reader can take (nested too deeply); {QA_FORMAT}")
    except Exception as err:  # e.g. ValueError: an integer over Python's int-string limit
        reason = (str(err).splitlines() or [type(err).__name__])[0].split(":")[0][:120]
        return Question(error=f"not JSON this reader can take ({reason}); {QA_FORMAT}")
    return question_item(item)


def answer_json(item: Question, answer: str, extra: dict[str, Any] | None = None) -> str:
    """The output line of a question: {"id", "question", "answer"} (+ `extra`, e.g. "score" or
    "answers", + "error" when unusable)."""
    row: dict[str, Any] = {"id": item.id, "question": item.question, "answer": answer}
    row.update(extra or {})
    if item.error is not None:
        row["error"] = item.error
    return json_line(row)


def json_line(row: dict[str, Any]) -> str:
    """`row` as one JSON line. Non-ASCII characters are written as they are, except U+2028 /
    U+2029 (escaped, so that readers splitting on them still see one line)."""
    text = json.dumps(row, ensure_ascii=False)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
