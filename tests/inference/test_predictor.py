"""The Predictor interface as predict.py uses it: n_best= and scores= (batched equals one by
one), and inputs that fail (a QA line that cannot be parsed, a tokenizer that panics) costing only
their own line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import encdec
from encdec.inference.predictor import PredictOptions, Predictor
from tests.support.behaviour_runs import predict_input
from tests.support.helpers import QA_CKPT, SUMMARIZATION_CKPT, TRANSLATION_CKPT


def numbered(text: str) -> list[tuple[int, bytes]]:
    return [(i, line.encode()) for i, line in enumerate(text.splitlines(), start=1)]


def predict(
    model: Predictor,
    lines: list[tuple[int, bytes]],
    options: PredictOptions,
    one_by_one: bool = False,
):
    warnings: list[tuple[int, str]] = []

    def warn(number: int, message: str) -> None:
        warnings.append((number, message))

    if not one_by_one:
        return model.predict_lines(lines, options, warn).lines, warnings
    alone = PredictOptions(**{**options.__dict__, "batch_size": 1})
    return [
        out for line in lines for out in model.predict_lines([line], alone, warn).lines
    ], warnings


@pytest.fixture(scope="module")
def models() -> dict[str, Any]:
    return {
        "translation": encdec.load(str(TRANSLATION_CKPT)),
        "summarization": encdec.load(str(SUMMARIZATION_CKPT)),
        "qa": encdec.load(str(QA_CKPT)),
    }


@pytest.mark.parametrize("kind", ["translation", "summarization"])
def test_n_best_and_scores_batched_equal_one_by_one(models, kind: str, data_dir: Path) -> None:
    name = "translation_lstm_bahdanau" if kind == "translation" else "summarization_copy_coverage"
    lines = numbered(predict_input(name, data_dir))[:6]
    lines.insert(2, (len(lines) + 1, b""))  # a blank line keeps its place
    model = models[kind]
    plain, _ = predict(model, lines, PredictOptions(batch_size=64, beam_size=3, max_length=20))

    options = PredictOptions(batch_size=64, beam_size=3, n_best=3, max_length=20)
    batched, _ = predict(model, lines, options)
    alone, _ = predict(model, lines, options, one_by_one=True)
    rows, rows_alone = [json.loads(b) for b in batched], [json.loads(a) for a in alone]
    assert len(rows) == len(lines) and rows[2] == {"hypotheses": []}
    for row, row_alone, output in zip(rows, rows_alone, plain, strict=True):
        texts = [h["text"] for h in row["hypotheses"]]
        assert texts == [h["text"] for h in row_alone["hypotheses"]]
        assert [h["log_prob"] for h in row["hypotheses"]] == pytest.approx(
            [h["log_prob"] for h in row_alone["hypotheses"]], abs=2e-3
        )
        assert len(texts) <= 3 and (not texts or texts[0] == output or output == "")
        scores = [h["log_prob"] for h in row["hypotheses"]]
        assert all(s <= 0 for s in scores)

    options = PredictOptions(batch_size=64, beam_size=3, scores=True, max_length=20)
    batched, _ = predict(model, lines, options)
    alone, _ = predict(model, lines, options, one_by_one=True)
    assert batched[2] == ""
    for line, line_alone, output in zip(batched, alone, plain, strict=True):
        if not output:
            continue
        score, text = line.split("\t", 1)
        score_alone, text_alone = line_alone.split("\t", 1)
        assert text == text_alone == output
        assert float(score) == pytest.approx(float(score_alone), abs=2e-3) and float(score) < 0


def test_a_qa_line_that_cannot_be_parsed_is_one_error_line(models) -> None:
    good = json.dumps({"id": "a", "context": "The cat sat on the mat.", "question": "Where?"})
    lines = [
        (1, good.encode()),
        (2, b'{"id": ' + b"7" * 5000 + b', "context": "x", "question": "y"}'),
        (3, good.encode()),
    ]
    out, warnings = predict(models["qa"], lines, PredictOptions())
    rows = [json.loads(o) for o in out]
    assert rows[0]["answer"] and rows[2] == rows[0]
    assert rows[1]["answer"] == "" and "not JSON this reader can take" in rows[1]["error"]
    assert [n for n, _ in warnings] == [2]


class Panic(BaseException):
    """What the tokenizers library raises when its Rust code panics (PanicException is a
    BaseException, so `except Exception` does not see it)."""


class PanickyTokenizer:
    """The model's tokenizer, panicking on any text holding "BOOM" (encode) or on decoding the
    token ids listed in `bad_ids`."""

    def __init__(self, real: Any) -> None:
        self.real, self.bad_ids = real, set()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def encode(self, text: str, *args: Any, **kwargs: Any) -> Any:
        if "BOOM" in text:
            raise Panic("called `Result::unwrap()` on an `Err` value: regex backtrack limit")
        return self.real.encode(text, *args, **kwargs)

    def encode_batch(self, texts: list, *args: Any, **kwargs: Any) -> Any:
        for text in texts:
            if "BOOM" in (text if isinstance(text, str) else " ".join(text)):
                raise Panic("panicked")
        return self.real.encode_batch(texts, *args, **kwargs)


@pytest.mark.parametrize("kind", ["translation", "qa"])
def test_a_tokenizer_panic_costs_only_its_line(kind: str) -> None:
    model = encdec.load(str(TRANSLATION_CKPT if kind == "translation" else QA_CKPT))
    if kind == "translation":
        good, bad = b"A man is riding a bike.", b"A BOOM is riding a bike."
    else:
        good = json.dumps({"context": "The cat sat on the mat.", "question": "Where?"}).encode()
        bad = json.dumps({"context": "The BOOM sat on the mat.", "question": "Where?"}).encode()
    lines = [(1, good), (2, bad), (3, good)]
    expected, _ = predict(model, lines[:1], PredictOptions())
    model.task.tokenizer = PanickyTokenizer(model.task.tokenizer)
    out, warnings = predict(model, lines, PredictOptions())
    assert out[0] == out[2] == expected[0] and out[0]
    assert [n for n, _ in warnings] == [2] and "tokenizer failed" in warnings[0][1]
    if kind == "qa":
        row = json.loads(out[1])
        assert row["answer"] == "" and "tokenizer failed" in row["error"]
    else:
        assert out[1] == ""


def test_a_tokenizer_panic_while_decoding_costs_only_its_line() -> None:
    model = encdec.load(str(TRANSLATION_CKPT))
    lines = [(1, b"A man is riding a bike."), (2, b"Two dogs play in the snow.")]
    expected, _ = predict(model, lines, PredictOptions())
    real = model.task.detokenize

    def detokenize(tokens: list[int], oov: Any = None) -> str:
        if detokenize.calls == 1:  # the second line's output
            detokenize.calls += 1
            raise Panic("panicked while decoding")
        detokenize.calls += 1
        return real(tokens, oov)

    detokenize.calls = 0  # type: ignore[attr-defined]
    model.task.detokenize = detokenize  # type: ignore[method-assign]
    out, warnings = predict(model, lines, PredictOptions())
    assert sum(o == "" for o in out) == 1 and set(out) - {""} <= set(expected)
    assert len(warnings) == 1 and "tokenizer failed" in warnings[0][1]


def test_ctrl_c_is_never_swallowed() -> None:
    model = encdec.load(str(TRANSLATION_CKPT))
    tok = PanickyTokenizer(model.task.tokenizer)

    def interrupted(*args: Any, **kwargs: Any) -> Any:
        raise KeyboardInterrupt

    tok.encode_batch = interrupted  # type: ignore[method-assign]
    model.task.tokenizer = tok
    with pytest.raises(KeyboardInterrupt):
        predict(model, [(1, b"A dog.")], PredictOptions())


def crafted_tokenizer(real: Any) -> Any:
    """The model's own tokenizer with a catastrophically backtracking pre-tokenizer regex first:
    the tokenizers library panics (a real PanicException) on a long run of "a" ending in "b"."""
    from tokenizers import Tokenizer

    spec = json.loads(real.to_str())
    split = {
        "type": "Split",
        "pattern": {"Regex": "(a+)+$"},
        "behavior": "Isolated",
        "invert": False,
    }
    spec["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [split, spec["pre_tokenizer"]]}
    return Tokenizer.from_str(json.dumps(spec))


def test_a_real_tokenizer_panic_costs_only_its_line() -> None:
    model = encdec.load(str(TRANSLATION_CKPT))
    good = (1, b"A man is riding a bike.")
    expected, _ = predict(model, [good], PredictOptions())
    model.task.tokenizer = crafted_tokenizer(model.task.tokenizer)
    with pytest.raises(BaseException) as panic:  # what used to end predict.py
        model.task.tokenizer.encode("a" * 40 + "b")
    assert not isinstance(panic.value, Exception)
    lines = [good, (2, b"a" * 40 + b"b"), (3, good[1])]
    out, warnings = predict(model, lines, PredictOptions())
    assert out == [expected[0], "", expected[0]]
    assert [n for n, _ in warnings] == [2] and "PanicException" in warnings[0][1]
