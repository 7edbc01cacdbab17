"""encdec.inference.inputs: the rules for inference input, line by line (no model needed)."""

from __future__ import annotations

import io
import json
import warnings

import pytest

from encdec.errors import ConfigError
from encdec.inference import inputs


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("beam_size", 0),
        ("beam_size", 65),
        ("beam_size", -1),
        ("beam_size", 2.5),
        ("beam_size", True),
        ("beam_size", "abc"),
        ("max_length", 0),
        ("max_length", 1025),
        ("batch_size", 0),
        ("batch_size", 4097),
        ("n_best", 0),
        ("n_best", 65),
    ],
)
def test_an_option_out_of_range_names_itself_and_the_range(name: str, value) -> None:
    low, high, _ = inputs.LIMITS[name]
    with pytest.raises(inputs.OptionError) as err:
        inputs.check_option(name, value)
    message = str(err.value)
    assert message.startswith(f"{name}={value} is not allowed")
    assert f"from {low} to {high}" in message and "\n" not in message
    assert isinstance(err.value, ValueError) and isinstance(err.value, ConfigError)


def test_options_in_range_pass() -> None:
    assert inputs.check_option("beam_size", None) is None
    assert inputs.check_option("beam_size", 1) == 1
    assert inputs.check_option("beam_size", 64) == 64
    assert inputs.check_option("max_length", 1024) == 1024
    with pytest.raises(inputs.OptionError, match="batch_size=None is not allowed"):
        inputs.check_option("batch_size", None, optional=False)


def test_a_caller_may_lower_the_upper_bound() -> None:
    assert inputs.check_option("k", 20, optional=False, most=20) == 20
    with pytest.raises(inputs.OptionError, match=r"k=21 .* from 1 to 20, e\.g\. k=5\.$"):
        inputs.check_option("k", 21, optional=False, most=20)
    with pytest.raises(inputs.OptionError, match="from 1 to 100"):
        inputs.check_option("k", 101, optional=False, most=500)  # never above LIMITS


def test_lines_split_on_newline_only() -> None:
    data = "a\u2028b\r\nc\x85d\x0ce\n\nlast".encode()
    assert list(inputs.read_lines(io.BytesIO(data))) == [
        "a\u2028b".encode(),
        "c\x85d\x0ce".encode(),
        b"",
        b"last",
    ]
    assert list(inputs.read_lines(io.BytesIO(b"a\nb\n"))) == [b"a", b"b"]
    assert list(inputs.read_lines(io.BytesIO(b""))) == []


def test_batched_keeps_order_and_the_short_tail() -> None:
    assert list(inputs.batched(range(5), 2)) == [[0, 1], [2, 3], [4]]


@pytest.mark.parametrize(
    ("raw", "text", "problem"),
    [
        (b"A dog.", "A dog.", None),
        ("Über Brücken.".encode(), "Über Brücken.", None),
        (b"", "", None),
        (b" \t ", "", None),  # blank: empty output, no warning
        ("Über Brücken.".encode("latin-1"), "", "not valid UTF-8 (byte 0xdc at byte 1"),
        (b"ok \xff", "", "iconv -f latin1 -t utf-8"),
        ("\u200b\u200c \ufeff".encode(), "", "only invisible characters (U+200B, U+200C, U+FEFF)"),
        ("a\ud800", "", "lone surrogate (U+D800)"),
        ("a\u2028b", "a\u2028b", None),  # a character inside the line, not a line break
    ],
)
def test_source_lines(raw: bytes | str, text: str, problem: str | None) -> None:
    source = inputs.source_line(raw)
    assert source.text == text
    if problem is None:
        assert source.problem is None
    else:
        assert problem in source.problem and "its output line is empty" in source.problem


def test_the_first_line_loses_its_byte_order_mark() -> None:
    assert inputs.source_line("\ufeffA dog.".encode(), first=True).text == "A dog."


def test_an_output_is_one_line() -> None:
    assert inputs.one_line("a\nb\u2028c\rd") == "a b c d"


def test_limits_of_a_transformer_and_an_rnn() -> None:
    class Positions:
        max_positions = 64

    class Transformer:
        positions = Positions()

    assert inputs.max_positions(Transformer()) == 64
    assert inputs.max_positions(object()) is None
    assert inputs.source_limit(64) == 64
    assert inputs.source_limit(None) == inputs.source_limit(10**6) == inputs.MAX_SOURCE_TOKENS
    assert inputs.output_cap(250, 64) == 64 and inputs.output_cap(250, None) == 250


def test_api_sentences() -> None:
    assert inputs.api_sentences("A dog.") == ["A dog."]
    assert inputs.api_sentences(("a", " ")) == ["a", ""]
    with pytest.raises(ValueError, match=r"sentences\[1\] is not a string but .* int"):
        inputs.api_sentences(["a", 5])
    with pytest.raises(ValueError, match=r"sentences\[0\] is not a string .*\(decode bytes"):
        inputs.api_sentences([b"a"])
    with pytest.raises(ValueError, match="a string or a list of strings, not bytes"):
        inputs.api_sentences(b"a")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert inputs.api_sentences(["a", "b\udc80", "\u200b"]) == ["a", "", ""]
    messages = [str(w.message) for w in caught]
    assert messages[0].startswith("sentences[1]: holds a lone surrogate (U+DC80)")
    assert messages[1].startswith("sentences[2]: holds only invisible characters")
    assert all(issubclass(w.category, inputs.InputWarning) for w in caught)


GOOD = {"id": "q1", "context": "The cat sat on the mat.", "question": "Where?"}


@pytest.mark.parametrize(
    ("line", "error"),
    [
        (json.dumps(GOOD), None),
        (json.dumps({**GOOD, "id": 7}), None),
        (json.dumps({k: v for k, v in GOOD.items() if k != "id"}), None),
        (b"\xff{}", "not valid UTF-8"),
        ("", "empty line"),
        ("not json", "not JSON (Expecting value at column 1)"),
        ("[1, 2]", "not a JSON object but a list"),
        ("[" * 100_000, "nested too deeply"),
        ('{"question": "Why?"}', '"context" is missing'),
        ('{"context": "x"}', '"question" is missing'),
        ('{"context": " ", "question": "Why?"}', '"context" is empty'),
        ('{"context": 5, "question": "Why?"}', '"context" is a number, not a string'),
        ('{"context": "x", "question": ["Why?"]}', '"question" is a list, not a string'),
        ('{"context": "a\\ud800b", "question": "Why?"}', '"context" holds a lone surrogate'),
        ('{"context": "\\u200b\\u200d", "question": "Why?"}', '"context" holds only invisible'),
        ('{"context": "x", "question": "Why?", "id": {"a": 1}}', '"id" must be a string'),
        ('{"context": "x", "question": "Why?", "id": "\\udc00"}', '"id" must be a string'),
        # Python's int-string limit: json.loads raises ValueError, not JSONDecodeError (issue 31)
        ('{"context": "x", "question": "Why?", "id": ' + "7" * 5000 + "}", "not JSON this reader"),
    ],
)
def test_question_lines(line: str | bytes, error: str | None) -> None:
    item = inputs.question_line(line)
    if error is None:
        assert item.error is None
        assert item.context == GOOD["context"] and item.question == GOOD["question"]
    else:
        assert item.error is not None and error in item.error
        assert item.context == ""
    row = json.loads(inputs.answer_json(item, ""))  # always a writable JSON line
    assert row["answer"] == "" and ("error" in row) == (error is not None)


def test_an_answer_line_escapes_unicode_line_separators() -> None:
    item = inputs.question_line(json.dumps(GOOD))
    text = inputs.answer_json(item, "on\u2028the mat")
    assert len(text.splitlines()) == 1
    assert json.loads(text) == {"id": "q1", "question": "Where?", "answer": "on\u2028the mat"}


def test_option_bounds_come_from_decoding() -> None:
    """The decoding package owns the bounds of beam and output length; the input rules use
    them (the dependency runs inference -> decoding, never back)."""
    from encdec.decoding.types import MAX_BEAM_SIZE, MAX_OUTPUT_LENGTH, DecodingSettings

    assert inputs.LIMITS["beam_size"][1] == inputs.LIMITS["n_best"][1] == MAX_BEAM_SIZE
    assert inputs.LIMITS["max_length"][1] == MAX_OUTPUT_LENGTH
    DecodingSettings(beam_size=MAX_BEAM_SIZE, max_len_cap=MAX_OUTPUT_LENGTH)
    with pytest.raises(ValueError, match="beam_size"):
        DecodingSettings(beam_size=MAX_BEAM_SIZE + 1)
