"""A retrieval model behind /predict, without a server: requests of different k answered together
equal ask.py's lines, the setup refusals, and the request bounds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from encdec.cli.search import ask, build_index
from encdec.errors import ConfigError
from encdec.inference.open_qa import SearchSetup
from encdec.retrieval.index import IndexFileError
from encdec.serving import schemas
from encdec.serving.api import SearchAPI
from encdec.serving.app import build_server
from tests.cli.test_search import PASSAGES, config
from tests.support.helpers import QA_CKPT

QUESTIONS = ["Who won Super Bowl 50?", "What is the capital of France?"]


@pytest.fixture
def collection(tmp_path: Path, retriever_file: Path) -> Path:
    path = tmp_path / "passages.jsonl"
    path.write_text("".join(json.dumps(p) + "\n" for p in PASSAGES), encoding="utf-8")
    build_index(config("index", f"retriever={retriever_file}", f"passages={path}"))
    return path


def test_requests_of_different_k_answered_together_equal_ask(
    retriever_file: Path, collection: Path, tmp_path: Path
) -> None:
    setup = SearchSetup(str(collection), hybrid=True, reader=str(QA_CKPT), k=2)
    api = SearchAPI(str(retriever_file), setup, model_file=True, max_batch_size=4)
    api.setup("cpu")
    requests = [
        schemas.SearchRequest(question=QUESTIONS[0], k=1),
        schemas.SearchRequest(question=QUESTIONS[1]),
        schemas.SearchRequest(question=QUESTIONS[0], k=3),
    ]
    found = [api.encode_response(r) for r in api.predict(requests)]
    assert [len(f["passages"]) for f in found] == [1, 2, 3]
    for request, got in zip(requests, found, strict=True):
        out = tmp_path / "line.jsonl"
        ask(config("ask", f"passages={collection}", f"retriever={retriever_file}", "hybrid=true",
                   f"reader={QA_CKPT}", f"question={request.question}", f"k={request.k or 2}",
                   f"output={out}"))  # fmt: skip
        line = json.loads(out.read_text())
        assert got == {k: v for k, v in line.items() if k not in ("id", "question")}
        assert got["answer"] and got["passage_id"] in [p["id"] for p in got["passages"]]


def test_a_setup_that_cannot_work_stops_before_serving(
    retriever_file: Path, collection: Path, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match="is a retrieval model: it searches a collection"):
        build_server(retriever_file, model_file=True)
    unindexed = tmp_path / "unindexed.txt"
    unindexed.write_text("A passage.\n")
    with pytest.raises(IndexFileError, match="No passage index at"):
        build_server(retriever_file, model_file=True, search=SearchSetup(str(unindexed)))
    with pytest.raises(ConfigError, match="passages= is for retrieval models; .* is a qa model"):
        build_server(QA_CKPT, search=SearchSetup(str(collection)))
    with pytest.raises(ConfigError, match="reader=.* is a translation model, not a qa model"):
        from tests.support.helpers import TRANSLATION_MODEL  # noqa: PLC0415

        setup = SearchSetup(str(collection), reader=str(TRANSLATION_MODEL))
        build_server(retriever_file, model_file=True, search=setup)


@pytest.mark.parametrize(
    ("body", "field"),
    [({"question": ""}, "question"), ({"question": "Who?", "k": 0}, "k"),
     ({"question": "Who?", "k": 21}, "k"), ({"question": "Who?", "k": 2.0}, "k")],
)  # fmt: skip
def test_search_requests_are_bounded(body: dict, field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        schemas.SearchRequest.model_validate(body)
    error = caught.value.errors()[0]
    cause = (error.get("ctx") or {}).get("error")
    named = cause.field if isinstance(cause, schemas.FieldError) else error["loc"][-1]
    assert named == field
