"""Pretrained embeddings: gensim Word2Vec vectors trained on real Multi30k text, in every file
layout, loaded row for row; errors that name the fix; frozen vs trainable in a real training run."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch
from gensim.models import Word2Vec
from tokenizers import Tokenizer
from torch import nn

from encdec.cli.train import train
from encdec.data.readers import read_lines
from encdec.data.tokenization import PAD, train_spaced_words
from encdec.models.embedding import (
    EmbeddingFileError,
    candidates,
    load_pretrained,
    sniff_format,
)
from tests.integration.test_cli import run
from tests.support.helpers import QA_SMALL, SMALL, compose_train

DIM = 24
LINES = 300  # the training slice of tests.support.helpers.SMALL (data.limit_train=300)
LAYOUTS = {  # file name -> (binary, header)
    "vectors.txt": (False, True),  # word2vec text
    "glove.txt": (False, False),  # GloVe: no header line
    "vectors.bin": (True, True),  # word2vec binary
}


@pytest.fixture(scope="module")
def corpus(data_dir: Path) -> list[str]:
    """The English and German sides of the first training pairs of Multi30k."""
    folder = data_dir / "multi30k"
    return read_lines(folder / "train.en.gz")[:LINES] + read_lines(folder / "train.de.gz")[:LINES]


@pytest.fixture(scope="module")
def vectors(corpus: list[str], tmp_path_factory: pytest.TempPathFactory):
    """Word2Vec trained here on the words of the corpus, saved in the three layouts."""
    words_tok = train_spaced_words(corpus, 100_000, 1)
    sentences = [
        [t.removeprefix("▁") for t in words_tok.encode(s).tokens if t != "▁"] for s in corpus
    ]
    # min_count=3: words seen once or twice have no vector, so some tokens are missing.
    w2v = Word2Vec(sentences, vector_size=DIM, min_count=3, workers=1, seed=0, epochs=2)
    folder = tmp_path_factory.mktemp("vectors")
    for name, (binary, header) in LAYOUTS.items():
        w2v.wv.save_word2vec_format(str(folder / name), binary=binary, write_header=header)
    return w2v.wv, folder


@pytest.mark.parametrize("name", list(LAYOUTS))
def test_rows_equal_the_files_vectors(name: str, vectors, corpus, caplog) -> None:
    kv, folder = vectors
    path = folder / name
    assert sniff_format(path) == (*LAYOUTS[name], DIM)
    vocab = train_spaced_words(corpus, 100_000, 2).get_vocab()  # words seen twice
    shared = nn.Embedding(len(vocab), DIM, padding_idx=vocab[PAD])
    other = nn.Embedding(len(vocab), DIM, padding_idx=vocab[PAD])
    with caplog.at_level(logging.INFO, logger="encdec.models.embedding"):
        missing = load_pretrained([shared, other], vocab, path)

    found = {t: w for t in vocab if t != PAD and (w := first_known(t, kv)) is not None}
    assert set(missing) == set(vocab) - set(found) - {PAD}
    assert 10 < len(missing) < len(vocab) // 2  # words seen twice, and <unk>, <s>, </s>
    assert len(found) > 100
    for token, word in found.items():
        for emb in (shared, other):
            assert torch.equal(emb.weight[vocab[token]], torch.tensor(kv[word])), token
    assert torch.all(shared.weight[vocab[PAD]] == 0)
    assert f"{len(missing)} missing" in caplog.text


def test_word_start_mark_and_case_are_matched() -> None:
    assert candidates("▁Dog") == ["▁Dog", "Dog", "dog"]
    assert candidates("dog") == ["dog"]
    assert candidates("▁") == ["▁"]


def test_dimension_disagreeing_with_the_file_is_a_clear_error(vectors) -> None:
    _, folder = vectors
    emb = nn.Embedding(10, DIM + 1)
    with pytest.raises(EmbeddingFileError, match=rf"model.embedding_dim={DIM}"):
        load_pretrained([emb], {str(i): i for i in range(10)}, folder / "vectors.txt")


def test_not_a_vectors_file_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "notes.txt"
    bad.write_text("hello\nworld\n")
    with pytest.raises(EmbeddingFileError, match="embeddings.vectors"):
        sniff_format(bad)
    with pytest.raises(FileNotFoundError, match="embeddings.vectors"):
        sniff_format(tmp_path / "missing.txt")


def embedding_weight(ckpt_path: Path) -> torch.Tensor:
    state = torch.load(ckpt_path, weights_only=False)["state_dict"]
    names = ("net.encoder.embedding.weight", "net.src_embedding.weight", "net.embedding.weight")
    (key,) = [k for k in state if k in names]
    return state[key]


@pytest.mark.parametrize(
    ("rnn", "freeze"), [("lstm", True), ("lstm", False), ("transformer", True)]
)
def test_training_keeps_frozen_embeddings_and_changes_trainable_ones(
    rnn: str, freeze: bool, vectors, tmp_path: Path, data_dir: Path, monkeypatch, caplog
) -> None:
    """train.py with tokenizer=word and the vectors: the size comes from the file, the loaded
    rows are the file's, and two optimizer steps leave them alone only when frozen."""
    monkeypatch.setenv("ENCDEC_DATA_DIR", str(data_dir))
    kv, folder = vectors
    cfg = compose_train(
        [
            *SMALL,
            "tokenizer=word",
            "model=transformer" if rnn == "transformer" else f"rnn={rnn}",
            "model.embedding_dim=null",  # taken from the file
            "model.share_embeddings=true",
            f"embeddings.vectors={folder / 'vectors.bin'}",
            f"model.freeze_embeddings={str(freeze).lower()}",
            "test=false",
        ],
        tmp_path,
    )
    with caplog.at_level(logging.INFO, logger="encdec.models.embedding"):
        train(cfg)
    assert "missing (random init)" in caplog.text
    weight = embedding_weight(tmp_path / "checkpoints" / "last.ckpt")
    assert weight.shape[1] == DIM
    vocab = Tokenizer.from_file(str(tmp_path / "tokenizer.json")).get_vocab()
    rows = {i: w for t, i in vocab.items() if (w := first_known(t, kv)) is not None}
    file_rows = torch.stack([torch.tensor(kv[w]) for w in rows.values()])
    same = (weight[list(rows)] == file_rows).all(dim=1)
    if freeze:
        assert same.all()
    else:
        assert (~same).sum() > 10  # the rows of the tokens in the two batches moved


def test_the_qa_reader_starts_from_the_vectors(
    vectors, tmp_path: Path, data_dir: Path, monkeypatch
) -> None:
    """task=qa: the reader's one word embedding (SQuAD's lower-cased words) takes the file's
    vectors, and frozen it stays so through two optimizer steps."""
    monkeypatch.setenv("ENCDEC_DATA_DIR", str(data_dir))
    kv, folder = vectors
    overrides = ["model.embedding_dim=null", f"embeddings.vectors={folder / 'glove.txt'}"]
    cfg = compose_train(
        [*QA_SMALL, *overrides, "model.freeze_embeddings=true", "test=false"], tmp_path
    )
    train(cfg)
    weight = embedding_weight(tmp_path / "checkpoints" / "last.ckpt")
    vocab = Tokenizer.from_file(str(tmp_path / "tokenizer.json")).get_vocab()
    rows = {i: w for t, i in vocab.items() if (w := first_known(t, kv)) is not None}
    assert len(rows) > 20  # English words that the SQuAD slice and Multi30k share
    assert (weight[list(rows)] == torch.stack([torch.tensor(kv[w]) for w in rows.values()])).all()


def first_known(token: str, kv) -> str | None:
    return next((w for w in candidates(token) if w in kv.key_to_index), None)


def test_train_py_stops_with_a_message_when_the_sizes_disagree(
    vectors, data_dir: Path, tmp_path: Path
) -> None:
    _, folder = vectors
    args = ["train.py", "data.limit_train=300", "tokenizer=word", "logger=none"]
    result = run([*args, f"embeddings.vectors={folder / 'glove.txt'}"], data_dir, tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output[-3000:]
    assert f"model.embedding_dim=256, but {folder / 'glove.txt'} holds {DIM}-dimensional" in output
    assert f"set model.embedding_dim={DIM}" in output
    assert "Traceback" not in output
