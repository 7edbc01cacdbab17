"""Word2Vec vectors from the training text (embeddings.word2vec): words split as the
tokenizer splits them, cached by content, loaded into the reader by train.py; bad options stop
with a message."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from gensim.models import KeyedVectors
from tokenizers import Tokenizer

from encdec.build import Embeddings
from encdec.cli.train import train
from encdec.data import word2vec as w2v
from encdec.data.qa import QADataModule
from encdec.data.word2vec import Word2VecSettings, cached_word2vec, words
from encdec.models.embedding import EmbeddingFileError
from tests.integration.test_cli import run
from tests.support.helpers import QA_SMALL, compose_train
from tests.support.own_data_files import preset

SETTINGS = Word2VecSettings(epochs=1, min_count=1, workers=1)
W2V = "embeddings.word2vec={epochs:1,min_count:1,workers:1}"


@pytest.fixture(scope="module")
def squad(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> QADataModule:
    """The first 300 real SQuAD training questions and their word tokenizer."""
    cache = tmp_path_factory.mktemp("cache")
    dm = preset("squad", data_dir, cache, limit_train=300, limit_eval=10)
    dm.prepare_data()
    return dm


def test_words_are_the_tokenizers_words(squad: QADataModule) -> None:
    """Every word the tokenizer knows is spelt as Word2Vec sees it (lower-cased, punctuation
    split off): the pre-tokenized words, mapped through the vocabulary, are the encoding."""
    texts = squad.training_texts()[:50]
    vocab = squad.tokenizer.get_vocab()
    for text, ws in zip(texts, words(texts, squad.tokenizer), strict=True):
        ids = [vocab.get(w, vocab["<unk>"]) for w in ws]
        assert ids == squad.tokenizer.encode(text, add_special_tokens=False).ids
        assert all(w == w.lower() for w in ws)


def test_vectors_cover_the_vocabulary_and_are_cached(
    squad: QADataModule, tmp_path: Path, monkeypatch
) -> None:
    texts = squad.training_texts()
    path = cached_word2vec(texts, squad.tokenizer, 16, SETTINGS, tmp_path)
    kv = KeyedVectors.load_word2vec_format(str(path))
    vocab = [t for t in squad.tokenizer.get_vocab() if not t.startswith("<")]
    assert kv.vector_size == 16 and all(t in kv.key_to_index for t in vocab)

    def fail(*args, **kwargs):
        raise AssertionError("retrained although cached")

    monkeypatch.setattr(w2v, "train_word2vec", fail)
    assert cached_word2vec(texts, squad.tokenizer, 16, SETTINGS, tmp_path) == path
    other = Word2VecSettings(epochs=2, min_count=1, workers=1)  # other settings: another file
    with pytest.raises(AssertionError, match="retrained"):
        cached_word2vec(texts, squad.tokenizer, 16, other, tmp_path)


def test_train_py_starts_the_reader_from_word2vec_vectors(
    tmp_path: Path, data_dir: Path, monkeypatch
) -> None:
    """task=qa with embeddings.word2vec and frozen embeddings: after two optimizer steps
    every vocabulary row equals the vector in the cached file train.py wrote."""
    monkeypatch.setenv("ENCDEC_DATA_DIR", str(data_dir))
    overrides = [*QA_SMALL, W2V, "model.freeze_embeddings=true", "model.embedding_dim=16"]
    cfg = compose_train(
        [*overrides, "test=false", f"data.cache_dir={tmp_path / 'cache'}"], tmp_path
    )
    train(cfg)
    (path,) = (tmp_path / "cache" / "vectors").glob("word2vec-16-*.txt")
    kv = KeyedVectors.load_word2vec_format(str(path))
    state = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=False)["state_dict"]
    weight = state["net.embedding.weight"]
    vocab = Tokenizer.from_file(str(tmp_path / "tokenizer.json")).get_vocab()
    rows = {i: t for t, i in vocab.items() if not t.startswith("<")}
    assert len(rows) > 400  # the slice's whole vocabulary (data.vocab_size=500)
    expected = torch.stack([torch.from_numpy(kv[t].copy()) for t in rows.values()])
    assert torch.equal(weight[list(rows)], expected)


def test_word2vec_with_a_vectors_file_stops_with_a_message(data_dir: Path, tmp_path: Path) -> None:
    args = ["train.py", *QA_SMALL, "logger=none", W2V, "embeddings.vectors=/v.txt"]
    result = run(args, data_dir, tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output[-3000:]
    assert "embeddings.vectors and embeddings.word2vec are both set" in output
    assert "Traceback" not in output


def test_an_unknown_word2vec_option_is_named() -> None:
    with pytest.raises(EmbeddingFileError, match="windw.*the options are epochs, window"):
        Embeddings(word2vec={"windw": 3}).word2vec_settings()
