"""POST /encode without a server: the request rules (4xx naming the field), the route beside
/predict, and EncodeAPI's answers for every kind equal to `encdec.load(...).encode`, batched
requests each as alone, and a text the tokenizer fails on costing only its request."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from fastapi.responses import JSONResponse
from pydantic import ValidationError

import encdec
from encdec.serving import schemas
from encdec.serving.api import EncodeAPI, load_predictor
from encdec.serving.app import build_server, model_info
from encdec.serving.schemas import EncodeRequest
from tests.inference.test_predictor import PanickyTokenizer
from tests.support.helpers import QA_CKPT, SUMMARIZATION_CKPT, TRANSLATION_MODEL

TEXTS = ["A man rides a bike.", "Two dogs play in the snow near a house.", "Children."]


def field_of(body: dict) -> str:
    with pytest.raises(ValidationError) as info:
        EncodeRequest.model_validate(body)
    error = info.value.errors()[0]
    cause = error.get("ctx", {}).get("error")
    return (
        cause.field if isinstance(cause, schemas.FieldError) else ".".join(map(str, error["loc"]))
    )


def test_good_request() -> None:
    request = EncodeRequest.model_validate({"texts": ["a", "b"], "pooling": "mean"})
    assert request.texts == ["a", "b"] and request.pooling == "mean" and request.side is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "texts"),
        ({"texts": []}, "texts"),
        ({"texts": "a text"}, "texts"),
        ({"texts": ["a", " "]}, "texts[1]"),
        ({"texts": ["a", 3]}, "texts.1"),
        ({"texts": ["a"] * 33}, "texts"),
        ({"texts": ["x" * 5001]}, "texts[0]"),
        ({"texts": ["a"], "pooling": "max"}, "pooling"),
        ({"texts": ["a"], "pooling": 1}, "pooling"),
        ({"texts": ["a"], "text": "b"}, "text"),
    ],
)
def test_bad_requests_name_their_field(body: dict, field: str) -> None:
    assert field_of(body) == field


def test_the_route_is_served_beside_predict() -> None:
    app = build_server(TRANSLATION_MODEL, model_file=True).app
    paths = {getattr(r, "path", None) for r in app.router.routes}
    assert {"/predict", "/encode"} <= paths
    predictor = load_predictor(TRANSLATION_MODEL, True)
    info = model_info(TRANSLATION_MODEL, predictor, schemas.Limits(), True)
    assert info["encoding"] == {
        "poolings": ["last", "mean"],
        "default_pooling": "last",
        "sides": ["source"],
    }


def api_for(path: Path, model_file: bool) -> EncodeAPI:
    api = EncodeAPI(str(path), model_file, max_batch_size=4)
    api.setup("cpu")
    return api


@pytest.mark.parametrize(
    ("path", "model_file"),
    [(TRANSLATION_MODEL, True), (SUMMARIZATION_CKPT, False), (QA_CKPT, False)],
)
def test_vectors_equal_the_api_each_request_as_alone(path: Path, model_file: bool) -> None:
    api = api_for(path, model_file)
    model = encdec.load(str(path))
    requests = [
        EncodeRequest(texts=TEXTS[:2]),
        EncodeRequest(texts=TEXTS[2:], pooling="mean"),
        EncodeRequest(texts=TEXTS[1:]),
    ]
    answers = [api.encode_response(a) for a in api.predict(requests)]
    for request, answer in zip(requests, answers, strict=True):
        pooling = request.pooling or "last"
        expected = model.encode(request.texts, pooling=pooling)
        assert answer["pooling"] == pooling and answer["dim"] == expected.shape[1]
        assert answer["side"] == ("question" if path == QA_CKPT else "source")
        torch.testing.assert_close(torch.tensor(answer["vectors"]), expected, atol=1e-5, rtol=0)
    # one request alone (batching off) gives its own answer
    alone = api.encode_response(api.predict(requests[2]))
    torch.testing.assert_close(torch.tensor(alone["vectors"]), torch.tensor(answers[2]["vectors"]))


def test_what_the_model_cannot_do_is_422_naming_the_field_alone() -> None:
    api = api_for(TRANSLATION_MODEL, True)
    api.predictor.task.tokenizer = PanickyTokenizer(api.predictor.task.tokenizer)  # type: ignore[attr-defined]
    requests = [
        EncodeRequest(texts=TEXTS[:1]),
        EncodeRequest(texts=["A dog.", "A BOOM here."]),
        EncodeRequest(texts=TEXTS[:1], side="question"),
        EncodeRequest(texts=TEXTS[:1]),
    ]
    first, boom, side, last = (api.encode_response(a) for a in api.predict(requests))
    assert first == last and len(first["vectors"]) == 1
    for answer, field in ((boom, "texts[1]"), (side, "side")):
        assert isinstance(answer, JSONResponse) and answer.status_code == 422
        assert f'"field":"{field}"' in answer.body.decode()
    assert "tokenizer failed" in boom.body.decode() and "['source']" in side.body.decode()
