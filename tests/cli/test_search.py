"""index.py and ask.py: a collection indexed with a retriever and searched with BM25, the dense
retriever or both, answers read from the passages found, and every refusal as one line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

import encdec
from encdec import build
from encdec.cli.common import CONF_DIR, ROOT
from encdec.cli.search import ask, build_index
from encdec.errors import ConfigError
from encdec.inference.retrieval import Retriever
from encdec.retrieval.index import IndexFileError, read_info
from tests.support.helpers import QA_CKPT

PASSAGES = [
    {"id": "paris", "text": "Paris is the capital and most populous city of France."},
    {"id": "sb50", "text": "The Denver Broncos defeated the Carolina Panthers 24-10 to win Super Bowl 50."},
    {"id": "plants", "text": "Photosynthesis turns light energy into chemical energy in plants."},
]  # fmt: skip


def config(name: str, *overrides: str) -> DictConfig:
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        return compose(name, overrides=list(overrides))


@pytest.fixture
def collection(tmp_path: Path) -> Path:
    path = tmp_path / "passages.jsonl"
    path.write_text("".join(json.dumps(p) + "\n" for p in PASSAGES) + "\n", encoding="utf-8")
    return path


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_index_then_ask_with_the_dense_retriever(
    retriever_file: Path, collection: Path, tmp_path: Path
) -> None:
    build_index(config("index", f"retriever={retriever_file}", f"passages={collection}"))
    folder = tmp_path / "passages.jsonl.index"
    info = read_info(folder)
    retriever = encdec.load(str(retriever_file))
    assert isinstance(retriever, Retriever)
    assert info.count == 3 and info.model_hash == retriever.model_hash
    questions = tmp_path / "questions.jsonl"
    questions.write_text(
        json.dumps({"id": "q1", "question": "Who won Super Bowl 50?"}) + "\nnot json\n"
    )
    out = tmp_path / "found.jsonl"
    ask(config("ask", f"passages={collection}", f"retriever={retriever_file}",
               f"input={questions}", f"output={out}", "k=2"))  # fmt: skip
    first, second = lines(out)
    hits = retriever.search("Who won Super Bowl 50?", [p["text"] for p in PASSAGES], k=2)
    assert [p["id"] for p in first["passages"]] == [PASSAGES[h.number]["id"] for h in hits]
    assert first["passages"][0]["text"] == PASSAGES[hits[0].number]["text"]
    assert first["id"] == "q1" and "answer" not in first  # no reader: passages only
    assert second == {"id": "2", "question": "", "passages": [], "error": "no usable question"}


def test_bm25_and_a_reader_answer_a_question_with_no_context(
    collection: Path, tmp_path: Path
) -> None:
    out = tmp_path / "answers.jsonl"
    ask(config("ask", f"passages={collection}", f"reader={QA_CKPT}",
               "question=Who won Super Bowl 50?", f"output={out}", "k=2"))  # fmt: skip
    (line,) = lines(out)
    text = {p["id"]: p["text"] for p in PASSAGES}[line["passage_id"]]
    assert line["passages"][0]["id"] == "sb50"  # BM25's best
    assert text[line["start"] : line["end"]] == line["answer"] and line["answer"]
    assert 0 < line["reader_score"] <= 1 and 1 <= line["rank"] <= 2


def test_hybrid_fuses_bm25_with_the_dense_index(
    retriever_file: Path, collection: Path, tmp_path: Path
) -> None:
    build_index(config("index", f"retriever={retriever_file}", f"passages={collection}"))
    out = tmp_path / "fused.jsonl"
    ask(config("ask", f"passages={collection}", f"retriever={retriever_file}", "hybrid=true",
               "question=Who won Super Bowl 50?", f"output={out}", "k=3"))  # fmt: skip
    (line,) = lines(out)
    assert sorted(p["id"] for p in line["passages"]) == ["paris", "plants", "sb50"]


def other_retriever(retriever_file: Path, tmp_path: Path) -> Path:
    """The same retriever with one weight changed: another model."""
    model = encdec.load(str(retriever_file))
    assert isinstance(model, Retriever)
    with torch.no_grad():
        next(model.net.parameters()).add_(0.01)
    return build.write_model_file(model.task, tmp_path / "other.pt")


def test_refusals_are_one_line(retriever_file: Path, collection: Path, tmp_path: Path) -> None:
    ask_with = ("ask", f"passages={collection}", "question=Who won?")
    with pytest.raises(IndexFileError, match="No passage index at .*build one"):
        ask(config(*ask_with, f"retriever={retriever_file}"))
    build_index(config("index", f"retriever={retriever_file}", f"passages={collection}"))
    other = other_retriever(retriever_file, tmp_path)
    with pytest.raises(IndexFileError, match="built with another model"):
        ask(config(*ask_with, f"retriever={other}"))
    with pytest.raises(ConfigError, match="is a qa model, not a retrieval model"):
        build_index(config("index", f"retriever={QA_CKPT}", f"passages={collection}"))
    with pytest.raises(ConfigError, match="hybrid=true fuses BM25 with a dense retriever"):
        ask(config(*ask_with, "hybrid=true"))
    with pytest.raises(
        ConfigError, match="k=0 is not allowed: it must be a whole number from 1 to 100"
    ):
        ask(config(*ask_with, "k=0"))
    with pytest.raises(ConfigError, match='give question="..." or input='):
        ask(config("ask", f"passages={collection}"))
    collection.write_text(collection.read_text() + json.dumps({"text": "A new passage."}) + "\n")
    with pytest.raises(IndexFileError, match="another version of the passages file"):
        ask(config(*ask_with, f"retriever={retriever_file}"))
    empty = tmp_path / "empty.txt"
    empty.write_text("\n \n")
    with pytest.raises(ConfigError, match="holds no passage"):
        ask(config("ask", f"passages={empty}", "question=Who won?"))
    with pytest.raises(FileNotFoundError, match="passages=.*missing.txt: no such file"):
        ask(config("ask", f"passages={tmp_path / 'missing.txt'}", "question=Who won?"))
    with pytest.raises(ConfigError, match="is the passages file"):
        ask(config(*ask_with, f"output={collection}"))


@pytest.mark.slow  # two processes as typed (~15 s)
def test_as_typed_a_missing_index_is_one_line_and_bm25_answers(
    retriever_file: Path, collection: Path, tmp_path: Path
) -> None:
    def typed(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "ask.py", f"passages={collection}", *args, f"paths.log_dir={tmp_path}"],
            cwd=ROOT, capture_output=True, text=True, timeout=300,
        )  # fmt: skip

    missing = typed(f"retriever={retriever_file}", "question=Who won?")
    assert missing.returncode == 1 and "No passage index at" in missing.stderr
    assert "Traceback" not in missing.stderr and not missing.stdout
    found = typed("question=Who won Super Bowl 50?", "k=1")
    assert found.returncode == 0, found.stderr[-2000:]
    assert json.loads(found.stdout)["passages"][0]["id"] == "sb50"
