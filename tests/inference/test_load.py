"""encdec.load returns the object that fits the model's task: text in / text out for translation
and summarization, question + context in / a span with offsets out for QA, each with n best."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import encdec
from encdec import build
from encdec.inference.answering import QuestionAnswerer
from encdec.inference.predictor import Predictor
from encdec.inference.translator import Candidate, Translator
from tests.support.helpers import (
    QA_CKPT,
    SUMMARIZATION_CKPT,
    TRANSLATION_CKPT,
    TRANSLATION_MODEL,
)

CONTEXT = "The Broncos beat the Carolina Panthers 24-10 in Santa Clara, California, in 2016."


def test_a_translation_model_file() -> None:
    model = encdec.load(str(TRANSLATION_MODEL))
    assert isinstance(model, Translator) and isinstance(model, Predictor)
    assert model.kind == "translation"
    lines = ["A man is riding a bike.", "Two dogs play in the snow."]
    outputs = model(lines)
    assert outputs == model.translate(lines) and len(outputs) == 2 and all(outputs)
    assert model("A man is riding a bike.") == outputs[:1]  # one string is one text
    best = model.n_best(lines, 3)
    assert [len(b) for b in best] != [0, 0] and all(1 <= len(b) <= 3 for b in best)
    for candidates, output in zip(best, outputs, strict=True):
        assert all(isinstance(c, Candidate) and c.log_prob < 0 for c in candidates)
        assert candidates[0].text == output  # the best of the n is the output
        assert len({c.text for c in candidates}) == len(candidates)


def test_a_checkpoint_loads_as_its_model_file() -> None:
    lines = ["A girl is eating an apple."]
    assert encdec.load(str(TRANSLATION_CKPT))(lines) == encdec.load(str(TRANSLATION_MODEL))(lines)


def test_a_summarizer_trained_on_text_pairs(summarizer_file: Path) -> None:
    model = encdec.load(str(summarizer_file))
    assert isinstance(model, Translator) and model.kind == "summarization"
    dialogue = "#Person1#: Where is the station? #Person2#: Two streets north."
    (summary,) = model.summarize([dialogue], beam_size=2, max_length=8)
    assert isinstance(summary, str)
    (best,) = model.n_best(dialogue, 2, beam_size=2, max_length=8)
    assert 1 <= len(best) <= 2 and best[0].text == summary


def test_an_old_summarization_checkpoint() -> None:
    model = encdec.load(str(SUMMARIZATION_CKPT))
    assert isinstance(model, Translator) and model.kind == "summarization"


def test_a_qa_model_file(tmp_path: Path) -> None:
    path = build.export_model(QA_CKPT, tmp_path / "reader.pt")
    model = encdec.load(str(path))
    assert isinstance(model, QuestionAnswerer) and isinstance(model, Predictor)
    assert model.kind == "qa"
    span = model("Who won?", CONTEXT)
    assert span.text and CONTEXT[span.start : span.end] == span.text and 0 < span.score <= 1
    spans = model.n_best("Who won?", CONTEXT, 3)
    assert len(spans) == 3 and spans[0] == span
    assert [s.score for s in spans] == sorted((s.score for s in spans), reverse=True)
    assert all(CONTEXT[s.start : s.end] == s.text for s in spans)
    assert model.answer([{"question": "Who won?", "context": CONTEXT}]) == [span]
    with pytest.raises(ValueError, match="question"):
        model(" ", CONTEXT)


def test_option_errors_name_the_option() -> None:
    model = encdec.load(str(TRANSLATION_MODEL))
    with pytest.raises(ValueError, match="n_best=4 needs at least as wide a beam"):
        model.n_best(["A dog."], 4, beam_size=2)
    with pytest.raises(ValueError, match="n_best=0 is not allowed"):
        model.n_best(["A dog."], 0)


def test_import_encdec_stays_light() -> None:
    code = (
        "import sys, encdec; heavy = [m for m in ('torch', 'encdec.cli', 'encdec.inference', "
        "'lightning', 'hydra') if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
