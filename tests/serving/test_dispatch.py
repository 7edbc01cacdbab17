"""encdec.serving without a server: /model names the task the file records for all three kinds,
the API is chosen by it, and a request the tokenizer fails on gets a JSON error of its own."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.responses import JSONResponse

from encdec import build
from encdec.serving import schemas
from encdec.serving.api import QAAPI, Seq2SeqAPI, load_predictor
from encdec.serving.app import API_OF_KIND, model_info
from tests.inference.test_predictor import PanickyTokenizer
from tests.support.helpers import QA_CKPT, SUMMARIZATION_CKPT, TRANSLATION_MODEL


@pytest.mark.parametrize(
    ("path", "model_file", "kind", "api"),
    [
        (TRANSLATION_MODEL, True, "translation", Seq2SeqAPI),
        (SUMMARIZATION_CKPT, False, "summarization", Seq2SeqAPI),
        (QA_CKPT, False, "qa", QAAPI),
    ],
)
def test_model_names_the_task(path: Path, model_file: bool, kind: str, api: type) -> None:
    predictor = load_predictor(path, model_file)
    info = model_info(path, predictor, schemas.Limits(), model_file)
    assert info["task"] == kind and API_OF_KIND[kind] is api
    assert ("languages" in info) == (kind != "qa") and ("decoding" in info) == (kind != "qa")
    json.dumps(info)  # what GET /model sends


def test_a_summarizer_on_text_pairs_is_shown_as_a_summarizer(summarizer_file: Path) -> None:
    """Its data class is Seq2SeqDataModule: nothing in a class name says "summarization"."""
    info = model_info(
        summarizer_file, load_predictor(summarizer_file, True), schemas.Limits(), True
    )
    assert info["task"] == "summarization" and info["training"]["data"] == "Seq2SeqDataModule"


def api_for(path: Path, model_file: bool, cls: type) -> Any:
    api = cls(str(path), model_file, max_batch_size=4)
    api.setup("cpu")
    api.task.tokenizer = PanickyTokenizer(api.task.tokenizer)
    return api


def test_a_text_the_tokenizer_fails_on_gets_a_json_error_alone() -> None:
    api = api_for(TRANSLATION_MODEL, True, Seq2SeqAPI)
    requests = [
        schemas.TextRequest(text="A man is riding a bike."),
        schemas.TextRequest(texts=["A dog.", "A BOOM is here."]),
        schemas.TextRequest(text="A man is riding a bike."),
    ]
    first, failed, last = (api.encode_response(r) for r in api.predict(requests))
    assert first == last and first["outputs"][0]
    assert isinstance(failed, JSONResponse) and failed.status_code == 422
    body = json.loads(failed.body)
    assert body["field"] == "texts[1]" and "tokenizer failed" in body["error"]
    # the same worker answers the next request
    assert api.encode_response(api.predict(requests[0])) == first


def test_a_qa_request_the_tokenizer_fails_on_gets_a_json_error_alone() -> None:
    api = api_for(QA_CKPT, False, QAAPI)
    good = schemas.QARequest(question="Where?", context="The cat sat on the mat.")
    bad = schemas.QARequest(question="Where?", context="The BOOM sat on the mat.")
    answered, failed = (api.encode_response(r) for r in api.predict([good, bad]))
    assert answered["answer"] and isinstance(failed, JSONResponse) and failed.status_code == 422
    assert "tokenizer failed" in json.loads(failed.body)["error"]
    assert api.encode_response(api.predict(good)) == answered


def test_the_legacy_file_kinds_agree_with_build() -> None:
    assert build.load_model_file(TRANSLATION_MODEL).kind == "translation"


def test_model_names_the_languages_of_a_saved_data_source() -> None:
    """A version-2 file's languages sit, once upgraded, in the data source's node."""
    predictor = load_predictor(TRANSLATION_MODEL, True)
    info = model_info(TRANSLATION_MODEL, predictor, schemas.Limits(), True)
    assert info["languages"] == {"source": "en", "target": "de"}
