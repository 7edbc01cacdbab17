"""Search a collection of passages, and answer questions from it (docs/encoder.md#search-and-open-domain-qa).

    python index.py retriever=retriever.pt passages=paragraphs.jsonl [index=FOLDER]
    python ask.py passages=paragraphs.jsonl [retriever=bm25|retriever.pt] [hybrid=true]
                  [reader=reader.pt] [k=5] (question="..." | input=questions.txt) [output=FILE]

index.py encodes every passage with a trained retrieval model's passage encoder into a
`VectorIndex` saved beside the passages (`<passages>.index/`), stamped with the model's weights
hash and the passages file's SHA-256. ask.py retrieves the k best passages of each question with
BM25 (no model needed), the dense retriever (its index) or both fused, and with `reader=` a
trained QA reader answers from them. One JSON line per question:
{"id", "question", "passages": [{"id", "score", "text"}, ...] best first} and, with a reader,
"answer", "start", "end" (offsets in the passage), "passage_id", "reader_score",
"retrieval_score", "rank".
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path
from typing import Any

import hydra
import torch
from omegaconf import DictConfig

from encdec.cli.common import CONF_DIR, run_friendly
from encdec.cli.lines import open_output, same_file, warner
from encdec.errors import ConfigError
from encdec.inference import inputs
from encdec.inference.open_qa import SearchSetup
from encdec.inference.predictor import load_kind
from encdec.inference.retrieval import Retriever
from encdec.inference.texts import (
    is_json_lines,
    numbered_texts,
    open_texts,
    read_collection,
)
from encdec.retrieval.index import VectorIndex, default_index_path

log = logging.getLogger(__name__)


def load_retriever(path: Any) -> Retriever:
    model = load_kind(path, "retrieval", "retriever")
    assert isinstance(model, Retriever)
    return model


def index_folder(cfg: DictConfig) -> Path:
    return Path(str(cfg.index)) if cfg.get("index") else default_index_path(str(cfg.passages))


def batch_size_of(cfg: DictConfig) -> int:
    return inputs.check_option("batch_size", cfg.get("batch_size"), optional=False)


# -- index.py ----------------------------------------------------------------------------------
def build_index(cfg: DictConfig) -> None:
    batch_size = batch_size_of(cfg)
    passages, folder = Path(str(cfg.passages)), index_folder(cfg)
    if same_file(folder, passages):
        raise ConfigError(f"index={folder} is the passages file: give another folder.")
    collection = read_collection(passages, warner(f"passages={passages}"))
    retriever = load_retriever(cfg.retriever)
    retriever.batch_size = batch_size
    with torch.inference_mode():
        index = retriever.index(collection.texts)
    index = VectorIndex(index.vectors, replace(index.info, passages_sha256=collection.sha256))
    try:
        index.save(folder)
    except OSError as err:
        raise ConfigError(
            f"index={folder}: cannot write it ({err.strerror or err}). Give a writable folder."
        ) from None
    log.info(
        "Indexed %d passages (%d-dimensional, pooling=%s) -> %s",
        len(index),
        index.info.dim,
        index.info.pooling,
        folder,
    )


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="index")
def index_main(cfg: DictConfig) -> None:
    run_friendly(lambda: build_index(cfg))


# -- ask.py -------------------------------------------------------------------------------------
def questions_of(cfg: DictConfig, stack: ExitStack) -> Iterator[tuple[str, str]]:
    """(id, question) pairs from question= or input= (text lines, or .jsonl {"id", "question"});
    the input is opened now, so a missing one costs no model loading."""
    if (cfg.get("question") is None) == (cfg.get("input") is None):
        raise ConfigError(
            'give question="..." or input=<file of questions>, one of them: one question per '
            'line, or JSON lines {"id": ..., "question": ...} in a .jsonl file.'
        )
    if cfg.get("question") is not None:
        return iter([("1", str(cfg.question))])
    path = Path(str(cfg.input))
    stream = stack.enter_context(open_texts(path, "input"))
    texts = numbered_texts(
        stream, is_json_lines(path), warner(f"input={path}"), "question", "it gets no passages"
    )

    def read() -> Iterator[tuple[str, str]]:
        try:
            yield from texts
        except (OSError, EOFError) as err:  # e.g. a truncated or corrupt .gz
            raise ConfigError(f"input={path}: cannot read it ({err}).") from None

    return read()


def search_setup(cfg: DictConfig, most_k: int) -> SearchSetup:
    """passages=, index=, hybrid=, reader=, k= (1..most_k) of ask.py and serve.py, checked."""
    hybrid = cfg.get("hybrid", False)
    if not isinstance(hybrid, bool):
        raise ConfigError(f"hybrid={hybrid} is not allowed: give hybrid=true or hybrid=false.")
    return SearchSetup(
        str(cfg.passages),
        None if cfg.get("index") is None else str(cfg.index),
        hybrid,
        None if cfg.get("reader") is None else str(cfg.reader),
        inputs.check_option("k", cfg.get("k"), optional=False, most=most_k),
    )


def ask(cfg: DictConfig) -> None:
    setup = search_setup(cfg, 100)
    batch_size = batch_size_of(cfg)
    passages = Path(setup.passages)
    if cfg.get("output") is not None:
        for given, name in ((passages, "passages"), (cfg.get("input"), "input")):
            if given is not None and same_file(Path(str(cfg.output)), Path(str(given))):
                raise ConfigError(
                    f"output={cfg.output} is the {name} file: writing it would erase it. Give "
                    f"another output file."
                )
    with ExitStack() as stack:
        asked = questions_of(cfg, stack)
        retriever = None if cfg.retriever == "bm25" else load_retriever(cfg.retriever)
        stack.enter_context(torch.inference_mode())
        system, collection = setup.open(retriever, warner(f"passages={passages}"), batch_size)
        out = stack.enter_context(open_output(cfg.get("output")))
        for chunk in inputs.batched(asked, batch_size):
            usable = [n for n, (_, q) in enumerate(chunk) if q]  # the others were warned about
            answers = dict(zip(usable, system.ask([chunk[n][1] for n in usable]), strict=True))
            out.write(
                json.dumps(
                    {"id": i, "question": q, **answers[n].record(collection)}
                    if n in answers
                    else {"id": i, "question": q, "passages": [], "error": "no usable question"},
                    ensure_ascii=False,
                )
                for n, (i, q) in enumerate(chunk)
            )


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="ask")
def ask_main(cfg: DictConfig) -> None:
    run_friendly(lambda: ask(cfg))
